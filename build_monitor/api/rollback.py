"""The pluggable start of a rollback: `start_rollback_via_prefect` runs the served rollback
deployments; without a starter given to `create_app(start_rollback=...)`, the endpoint answers
503 "rollback not available"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from build_monitor.rollback.actions import EMERGENCY, ROLLBACK


class RollbackUnavailable(Exception):
    """Rollbacks cannot be started (not deployed, Prefect down)."""


@dataclass(frozen=True)
class RollbackStarted:
    flow_run_id: str | None
    message: str


# (service, commit or None for an emergency rollback, reason) -> what was started
StartRollback = Callable[[str, str | None, str], Awaitable[RollbackStarted]]


async def rollback_not_available(service: str, commit: str | None, reason: str) -> RollbackStarted:
    raise RollbackUnavailable("rollback not available: the rollback flows are not deployed yet")


async def start_rollback_via_prefect(
    service: str, commit: str | None, reason: str
) -> RollbackStarted:
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    name, parameters = (
        (EMERGENCY.deployment, {"service": service, "reason": reason, "trigger": "api"})
        if commit is None
        else (
            ROLLBACK.deployment,
            {"service": service, "commit": commit, "reason": reason, "trigger": "api"},
        )
    )
    try:
        flow_run = await run_deployment(name, parameters=parameters, timeout=0)  # type: ignore[misc]
    except ObjectNotFound:
        raise RollbackUnavailable(f"the {name} deployment is not served") from None
    except (PrefectHTTPStatusError, OSError) as exc:
        raise RollbackUnavailable(f"Prefect is unreachable: {exc}") from None
    started = cast(object, flow_run)
    return RollbackStarted(flow_run_id=str(getattr(started, "id", "")), message=f"started {name}")
