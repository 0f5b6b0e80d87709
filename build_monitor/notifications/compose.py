"""Turn an event into a channel-neutral Message: what happened, the facts, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from build_monitor.notifications.events import NotificationEvent, short_sha
from build_monitor.notifications.redact import redact, redact_structure

Severity = Literal["failure", "warning", "success", "info"]

_SEVERITY: dict[str, Severity] = {
    "build_failed": "failure",
    "build_recovered": "success",
    "culprit_found": "failure",
    "bisect_inconclusive": "warning",
    "rollback_started": "info",
    "rollback_succeeded": "success",
    "rollback_failed": "failure",
}
_MAX_LOG_LINE = 200


@dataclass(frozen=True)
class Message:
    title: str
    headline: str
    severity: Severity
    service: str
    fields: tuple[tuple[str, str], ...] = ()
    log_excerpt: str | None = None
    link: str | None = None
    next_action: str | None = None
    occurred_at: datetime | None = None
    extra_lines: tuple[str, ...] = field(default=())


def shell_quote(text: str) -> str:
    """Double-quote for POSIX shells, the way people type a rollback reason."""
    escaped = "".join("\\" + ch if ch in '"\\$`' else ch for ch in text.replace("\n", " "))
    return f'"{escaped}"'


def rollback_command(service: str, commit: str, reason: str) -> str:
    return f"build-monitor rollback {service} {commit} {shell_quote(reason)}"


def tail_lines(text: str | None, count: int) -> str | None:
    if not text or count <= 0:
        return None
    lines = [line.rstrip() for line in text.strip("\n").splitlines()][-count:]
    clipped = [
        line if len(line) <= _MAX_LOG_LINE else line[: _MAX_LOG_LINE - 1] + "…" for line in lines
    ]
    return "\n".join(clipped) or None


def _commit_phrase(event: NotificationEvent) -> str:
    phrase = short_sha(event.commit)
    details = ", ".join(part for part in (event.author, event.subject) if part)
    return f"{phrase} ({details})" if details else phrase


def _headline(event: NotificationEvent) -> str:
    service, commit = event.service, _commit_phrase(event)
    stage = event.stage or "build"
    if event.event == "build_failed":
        return f"The {stage} of {service} failed at commit {commit}."
    if event.event == "build_recovered":
        return f"{service} builds again at commit {commit}."
    if event.event == "culprit_found":
        culprit = event.culprit
        if culprit is not None:
            details = ", ".join(p for p in (culprit.author, culprit.subject) if p)
            who = (
                f"{short_sha(culprit.commit)} ({details})" if details else short_sha(culprit.commit)
            )
            return f"Commit {who} broke {service}."
        return f"Commit {commit} broke {service}."
    if event.event == "bisect_inconclusive":
        count = len(event.candidates)
        return f"The bisect of {service} could not isolate one commit ({count} candidates)."
    rollback = event.rollback
    target = short_sha(rollback.to_commit) if rollback else "unknown"
    source = short_sha(rollback.from_commit) if rollback and rollback.from_commit else "unknown"
    if event.event == "rollback_started":
        return f"Rolling {service} back from {source} to {target}."
    if event.event == "rollback_succeeded":
        return f"{service} was rolled back from {source} to {target}."
    return f"The rollback of {service} from {source} to {target} failed."


def _last_good(event: NotificationEvent) -> str | None:
    if event.culprit is not None and event.culprit.last_good_commit:
        return event.culprit.last_good_commit
    return None


def default_next_action(event: NotificationEvent) -> str:
    service, branch = event.service, event.branch or "the branch"
    last_good = _last_good(event)
    if event.event == "build_failed":
        return f"Read the log above and fix forward on {branch}; a bisect will name the culprit."
    if event.event == "build_recovered":
        return "Nothing to do."
    if event.event == "culprit_found":
        culprit = event.culprit
        culprit_sha = short_sha(culprit.commit if culprit else event.commit)
        subject = culprit.subject if culprit and culprit.subject else ""
        if last_good:
            reason = f"culprit {culprit_sha}" + (f": {subject}" if subject else "")
            return "Roll back with: " + rollback_command(service, last_good, reason)
        return f"Revert {culprit_sha} on {branch}."
    if event.event == "bisect_inconclusive":
        if last_good:
            reason = f"bisect inconclusive at {event.short_sha}"
            return "Inspect the candidate commits, or roll back with: " + rollback_command(
                service, last_good, reason
            )
        return "Inspect the candidate commits listed above."
    if event.event == "rollback_started":
        return "Nothing yet: the result follows in another message."
    if event.event == "rollback_succeeded":
        bad = event.rollback.from_commit if event.rollback else None
        return f"Fix or revert {short_sha(bad)} on {branch}; a passing build is reported here."
    rollback = event.rollback
    if rollback is not None:
        reason = rollback.reason or "retry failed rollback"
        return "The service still runs the old version. Retry with: " + rollback_command(
            service, rollback.to_commit, reason
        )
    return "Check the flow run: the service may be down."


def _fields(event: NotificationEvent) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str]] = [("Service", event.service)]
    if event.commit:
        rows.append(("Commit", short_sha(event.commit)))
    if event.author:
        rows.append(("Author", event.author))
    if event.subject:
        rows.append(("Subject", event.subject))
    if event.branch:
        rows.append(("Branch", event.branch))
    if event.stage:
        rows.append(("Stage", event.stage))
    if event.signature:
        rows.append(("Signature", event.signature))
    if event.culprit is not None:
        rows.append(("Culprit", short_sha(event.culprit.commit)))
        if event.culprit.last_good_commit:
            rows.append(("Last good", short_sha(event.culprit.last_good_commit)))
        if event.culprit.builds_run is not None:
            rows.append(("Builds run", str(event.culprit.builds_run)))
    if event.candidates:
        rows.append(("Candidates", ", ".join(short_sha(c) for c in event.candidates[:10])))
    if event.rollback is not None:
        rollback = event.rollback
        rows.append(
            ("Rollback", f"{short_sha(rollback.from_commit)} → {short_sha(rollback.to_commit)}")
        )
        if rollback.strategy:
            rows.append(("Strategy", rollback.strategy))
        if rollback.reason:
            rows.append(("Reason", rollback.reason))
        if rollback.error:
            rows.append(("Error", rollback.error))
    return tuple(rows)


def compose(event: NotificationEvent, *, flow_run_url: str | None, log_lines: int = 8) -> Message:
    title = f"{event.event.replace('_', ' ')}: {event.service}"
    if event.commit:
        title += f" at {event.short_sha}"
    return Message(
        title=title,
        headline=_headline(event),
        severity=_SEVERITY[event.event],
        service=event.service,
        fields=_fields(event),
        log_excerpt=tail_lines(event.log_excerpt, log_lines),
        link=flow_run_url,
        next_action=event.next_action or default_next_action(event),
        occurred_at=event.occurred_at,
    )


@dataclass(frozen=True)
class HeldEvent:
    event: str
    commit: str | None
    at: datetime


def compose_summary(service: str, held: list[HeldEvent], quiet_period_seconds: float) -> Message:
    count = len(held)
    noun, verb = ("event", "was") if count == 1 else ("events", "were")
    lines = tuple(
        f"{item.at:%Y-%m-%d %H:%M:%S} UTC  {item.event}  {short_sha(item.commit)}"
        for item in held[:20]
    )
    if count > 20:
        lines += (f"... and {count - 20} more",)
    latest = held[-1].event if held else "unknown"
    return Message(
        title=f"{count} held back: {service}",
        headline=(
            f"{count} more {noun} for {service} {verb} held back during the "
            f"{quiet_period_seconds:g} s quiet period; the latest is {latest}."
        ),
        severity="warning",
        service=service,
        fields=(("Service", service), ("Held back", str(count))),
        extra_lines=lines,
        next_action="Check the latest build of the service: it is flapping.",
    )


def compose_test(text: str, *, channel_name: str) -> Message:
    return Message(
        title="build-monitor test notification",
        headline=text,
        severity="info",
        service="-",
        fields=(("Channel", channel_name),),
        next_action="Nothing to do: this is a test.",
    )


def compose_plain(body: str, subject: str | None) -> Message:
    """A Message from the bare (body, subject) of NotificationBlock.notify()."""
    return Message(title=subject or "build-monitor", headline=body, severity="info", service="-")


def redact_message(message: Message, secrets: list[str]) -> Message:
    def clean(text: str | None) -> str | None:
        return None if text is None else redact(text, secrets)

    return replace(
        message,
        title=redact(message.title, secrets),
        headline=redact(message.headline, secrets),
        fields=redact_structure(message.fields, secrets),
        log_excerpt=clean(message.log_excerpt),
        link=clean(message.link),
        next_action=clean(message.next_action),
        extra_lines=redact_structure(message.extra_lines, secrets),
    )
