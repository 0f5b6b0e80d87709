"""Turning a `SecretRef` into the secret: environment variables are read on every use, Prefect
`Secret` blocks are cached for a while (and a stale value is kept if Prefect is unreachable)."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from build_monitor.webhooks.config import SecretRef

SecretResolver = Callable[[SecretRef], Awaitable[str | None]]
BlockLoader = Callable[[str], Awaitable[str]]


class SecretUnavailable(Exception):
    """A configured secret cannot be read right now (Prefect down, block missing)."""


async def load_secret_block(name: str) -> str:
    from prefect.blocks.system import Secret

    block: Any = await Secret.aload(name)
    value = block.get()
    if not isinstance(value, str):
        raise SecretUnavailable(f"Secret block {name!r} does not hold a string")
    return value


class CachingSecretResolver:
    def __init__(
        self,
        *,
        ttl_seconds: float = 60.0,
        load_block: BlockLoader = load_secret_block,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._load_block = load_block
        self._environ = environ if environ is not None else os.environ
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    async def __call__(self, ref: SecretRef) -> str | None:
        if ref.env is not None:
            return self._environ.get(ref.env) or None
        assert ref.block is not None
        cached = self._cache.get(ref.block)
        now = self._clock()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            value = await self._load_block(ref.block)
        except Exception as exc:
            if cached is not None:
                return cached[1]
            raise SecretUnavailable(f"cannot read {ref.describe()}: {type(exc).__name__}") from None
        self._cache[ref.block] = (now, value)
        return value or None
