"""Prefect's own zombie detection, for flow runs whose process died on any host.

While a flow run's process lives, Prefect's engine emits a `prefect.flow-run.heartbeat` event
every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds (180 by default in Prefect 3.9, for served,
worker and command-line runs alike). This is Prefect's documented "detect zombie flows"
automation: a proactive trigger per flow run that fires when, after a heartbeat, neither another
heartbeat nor a final state arrives in time, and sets the run Crashed. It is limited to
build-monitor's own flows, so other flows on a shared server are left to their owners.

On the same host `build-monitor status` and `start` find a dead bisection sooner by its pid
(tasks/flow_runs.py); this covers workers on other hosts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from uuid import UUID

from prefect.automations import Automation, ChangeFlowRunState, EventTrigger, Posture
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.schemas.automations import AutomationCore
from prefect.settings import get_current_settings

ZOMBIE_AUTOMATION_NAME = "build-monitor: crash flow runs whose heartbeat stopped"
HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"
FINAL_STATE_EVENTS = [
    f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")
]
# Prefect's default; the window below is never shorter, so a worker host left on the default
# is never declared dead while it still beats.
DEFAULT_HEARTBEAT_SECONDS = 180
MISSED_HEARTBEATS = 3


def zombie_window(heartbeat_seconds: int | None = None) -> timedelta:
    """How long after a heartbeat a flow run without another one (or a final state) is dead."""
    configured = heartbeat_seconds or get_current_settings().flows.heartbeat_frequency
    return timedelta(seconds=MISSED_HEARTBEATS * max(configured or 0, DEFAULT_HEARTBEAT_SECONDS))


def zombie_automation(flow_names: Iterable[str], within: timedelta) -> Automation:
    return Automation(
        name=ZOMBIE_AUTOMATION_NAME,
        description=(
            "A build-monitor flow run that stopped sending heartbeats without reaching a final "
            "state (its process or host died) is marked Crashed."
        ),
        enabled=True,
        trigger=EventTrigger(
            after={HEARTBEAT_EVENT},
            expect={HEARTBEAT_EVENT, *FINAL_STATE_EVENTS},
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            match_related={
                "prefect.resource.role": "flow",
                "prefect.resource.name": sorted(set(flow_names)),
            },
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                name="Crashed",
                message="its heartbeats stopped: the process or its host died",
                force=False,  # a run that just finished keeps its final state
            )
        ],
    )


def register_zombie_automation(flow_names: Iterable[str], within: timedelta | None = None) -> UUID:
    """Create the automation, or update the one of the same name (so registering again, or
    with more flows, changes nothing else). Returns its id."""
    wanted = zombie_automation(flow_names, within or zombie_window())
    # Only the fields set here: the update request (PUT) refuses some defaults it sends.
    core = AutomationCore(**wanted.model_dump(exclude={"id"}, exclude_unset=True))
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(ZOMBIE_AUTOMATION_NAME)
        if not existing:
            return client.create_automation(automation=core)
        keep, *duplicates = existing
        client.update_automation(automation_id=keep.id, automation=core)
        for duplicate in duplicates:  # two registrations raced: keep one
            client.delete_automation(automation_id=duplicate.id)
        return keep.id
