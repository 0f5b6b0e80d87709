"""Which [[notifications]] entries an event goes to."""

from __future__ import annotations

from build_monitor.errors import InvalidInputError
from build_monitor.notifications.config import CHANNEL_KINDS, NotificationConfig


def routes_for(
    *,
    event: str,
    service: str,
    entries: list[NotificationConfig],
    service_routes: list[str] | None,
) -> list[NotificationConfig]:
    """Entries subscribed to the event; a service's own list replaces the entries' filters."""
    if service_routes is not None:
        candidates = [entry for entry in entries if entry.name in service_routes]
    else:
        candidates = [e for e in entries if e.services is None or service in e.services]
    return [entry for entry in candidates if event in entry.events]


def select_entry(name_or_kind: str, entries: list[NotificationConfig]) -> NotificationConfig:
    """An entry by name, else the first entry of that channel kind, else a bare entry for a
    webhook kind (its block then comes from the environment)."""
    for entry in entries:
        if entry.name == name_or_kind:
            return entry
    for entry in entries:
        if entry.channel == name_or_kind:
            return entry
    if name_or_kind in ("slack", "discord", "webhook"):
        return NotificationConfig(name=name_or_kind, channel=name_or_kind)  # type: ignore[arg-type]
    names = ", ".join(entry.name for entry in entries)
    if name_or_kind == "email":
        raise InvalidInputError(
            'no email entry in [[notifications]]: add one with `channel = "email"` and `to`'
        )
    raise InvalidInputError(
        f"unknown channel {name_or_kind!r}: use one of {', '.join(CHANNEL_KINDS)}"
        + (f" or an entry name ({names})" if names else "")
    )
