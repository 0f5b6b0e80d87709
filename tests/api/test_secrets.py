from __future__ import annotations

import pytest

from build_monitor.api.secrets import CachingSecretResolver, SecretUnavailable
from build_monitor.webhooks.config import SecretRef

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_env_is_read_each_time_and_empty_means_unset() -> None:
    environ = {"S": "one"}
    resolve = CachingSecretResolver(environ=environ)
    assert await resolve(SecretRef(env="S")) == "one"
    environ["S"] = ""
    assert await resolve(SecretRef(env="S")) is None
    assert await resolve(SecretRef(env="MISSING")) is None


async def test_blocks_are_cached_and_a_stale_value_survives_an_outage() -> None:
    values = {"hook": "v1"}
    loads: list[str] = []
    clock = FakeClock()

    async def load(name: str) -> str:
        loads.append(name)
        if name not in values:
            raise ConnectionError("Prefect down")
        return values[name]

    resolve = CachingSecretResolver(ttl_seconds=60, load_block=load, clock=clock)
    ref = SecretRef(block="hook")
    assert await resolve(ref) == "v1"
    values["hook"] = "v2"
    assert await resolve(ref) == "v1"
    clock.now = 61
    assert await resolve(ref) == "v2"
    del values["hook"]
    clock.now = 200
    assert await resolve(ref) == "v2"
    assert loads == ["hook", "hook", "hook"]
    with pytest.raises(SecretUnavailable, match="Secret block 'other'"):
        await resolve(SecretRef(block="other"))


@pytest.mark.prefect
async def test_real_secret_block_is_read(prefect_api_url: str) -> None:
    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    await Secret(value=SecretStr("from-a-block")).save("build-monitor-test-secret", overwrite=True)
    resolve = CachingSecretResolver()
    assert await resolve(SecretRef(block="build-monitor-test-secret")) == "from-a-block"
