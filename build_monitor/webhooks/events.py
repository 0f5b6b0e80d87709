"""The Prefect event a verified push becomes (as plain JSON-ready data).

The event id is derived from the delivery, so a re-emitted event is recognised by Prefect's
triggers as already seen instead of starting a second run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from build_monitor.webhooks.payloads import PushEvent

PUSH_EVENT = "build-monitor.push"
SERVICE_RESOURCE_PREFIX = "build-monitor.service."
_EVENT_NAMESPACE = uuid.UUID("9a3f1c52-7b1e-4d5e-8f0c-6b2d4a1e0c11")


def service_resource_id(service: str) -> str:
    return SERVICE_RESOURCE_PREFIX + service


def push_event_id(forge: str, delivery_id: str, service: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{forge}\n{delivery_id}\n{service}"))


def push_event(
    push: PushEvent, *, service: str, delivery_id: str, occurred: datetime
) -> dict[str, Any]:
    return {
        "id": push_event_id(push.forge, delivery_id, service),
        "event": PUSH_EVENT,
        "occurred": occurred.isoformat(),
        "resource": {
            "prefect.resource.id": service_resource_id(service),
            "prefect.resource.name": service,
            "build-monitor.service": service,
        },
        "related": [],
        "payload": {
            "service": service,
            "forge": push.forge,
            "delivery_id": delivery_id,
            "repository": push.repository,
            "ref": push.ref,
            "branch": push.branch,
            "before": push.before,
            "after": push.after,
            "pusher": push.pusher,
            "commit_count": push.commit_count,
            "compare_url": push.compare_url,
            "forced": push.forced,
        },
    }


def monitor_deployment_name(service: str) -> str:
    """The deployment whose runs a push of `service` starts (and coalesces into)."""
    return f"monitor-{service}"


def push_trigger(service: str) -> dict[str, Any]:
    """The deployment trigger (as in prefect.yaml `triggers:`) that starts the monitor flow for
    `service` on its push events; `DeploymentEventTrigger(**push_trigger(name))` in Python.
    Single-expression templates keep their JSON type, so a null `before` stays None."""
    return {
        "type": "event",
        "name": f"build-monitor push {service}",
        "enabled": True,
        "match": {"prefect.resource.id": service_resource_id(service)},
        "expect": [PUSH_EVENT],
        "parameters": {
            "service": service,
            "commit": "{{ event.payload.after }}",
            "before": "{{ event.payload.before }}",
            "trigger": "webhook",
        },
    }
