"""Keyword-only CRUD functions for bisections and their probes (history database)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlmodel import Session, col, select, update

from build_monitor.bisection import BisectResult, Observation, matches_target
from build_monitor.bisection.flake_history import FlakeEvidence, evidence_from_bisection
from build_monitor.builders.processes import pid_alive
from build_monitor.history.models import (
    Bisection,
    BisectionStatus,
    BisectProbe,
    Build,
    BuildStatus,
    utcnow,
)


def start_bisection(
    *, session: Session, service: str, good: str, bad: str, trigger: str, flow_run_id: str | None
) -> Bisection:
    bisection = Bisection(
        service=service,
        good=good,
        bad=bad,
        trigger=trigger,
        flow_run_id=flow_run_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        heartbeat_at=utcnow(),
    )
    session.add(bisection)
    session.flush()
    return bisection


def beat_bisection(*, session: Session, bisection_id: int) -> None:
    """Note that the bisection's process is alive (its heartbeat)."""
    session.execute(
        update(Bisection)
        .where(col(Bisection.id) == bisection_id, col(Bisection.status) == BisectionStatus.running)
        .values(heartbeat_at=utcnow())
    )


def mark_interrupted_bisections(*, session: Session, stale_heartbeat_after: timedelta) -> int:
    """Bisections left `running` by a process that died become `interrupted`: on this host, its
    pid is gone; on another, its heartbeat (or, before the first, its start) is older than
    `stale_heartbeat_after`. Returns how many were marked."""
    host, now = socket.gethostname(), utcnow()
    statement = select(Bisection).where(Bisection.status == BisectionStatus.running)
    marked = 0
    for bisection in session.exec(statement).all():
        if bisection.host == host and bisection.pid is not None:
            dead = not pid_alive(bisection.pid)
        else:
            last_sign_of_life = bisection.heartbeat_at or bisection.started_at
            dead = now - last_sign_of_life > stale_heartbeat_after
        if dead:
            bisection.status = BisectionStatus.interrupted
            bisection.finished_at = now
            bisection.reason = bisection.reason or "its process died before it finished"
            session.add(bisection)
            marked += 1
    return marked


def record_probe(
    *, session: Session, bisection_id: int, observation: Observation, build_id: int | None
) -> None:
    session.add(
        BisectProbe(
            bisection_id=bisection_id,
            commit=observation.commit,
            outcome=observation.outcome.value,
            signature=observation.signature,
            duration_s=round(observation.duration_s, 3),
            cached=observation.cached,
            build_id=build_id,
        )
    )


def others_built(*, session: Session, bisection_id: int, commit: str) -> bool:
    """Whether a commit other than `commit` has built (passed or failed, not errored, not a
    reused record) in a probe of this bisection: the machine works, as far as it can tell."""
    probes = session.exec(
        select(BisectProbe.commit, BisectProbe.outcome, BisectProbe.cached).where(
            BisectProbe.bisection_id == bisection_id
        )
    ).all()
    return any(c != commit and outcome != "error" and not cached for c, outcome, cached in probes)


def finish_bisection(
    *,
    session: Session,
    bisection_id: int,
    result: BisectResult | None,
    status: BisectionStatus,
    signature: str | None,
    culprit_author: str | None = None,
    culprit_subject: str | None = None,
    report: str | None = None,
    log_excerpt: str | None = None,
    reason: str | None = None,
) -> Bisection:
    bisection = session.get(Bisection, bisection_id)
    if bisection is None:
        raise LookupError(f"bisection {bisection_id} does not exist")
    bisection.status = status
    bisection.signature = signature
    bisection.finished_at = utcnow()
    bisection.reason = reason
    if result is not None:
        bisection.culprit = result.culprit
        bisection.confidence = round(result.confidence, 6)
        bisection.builds = result.builds
        bisection.suspects = json.dumps([[c, round(p, 6)] for c, p in result.suspects])
        bisection.reason = result.reason
    bisection.culprit_author, bisection.culprit_subject = culprit_author, culprit_subject
    bisection.report, bisection.log_excerpt = report, log_excerpt
    session.add(bisection)
    session.flush()
    return bisection


def list_bisections(*, session: Session, service: str, limit: int = 10) -> Sequence[Bisection]:
    statement = (
        select(Bisection)
        .where(Bisection.service == service)
        .order_by(col(Bisection.started_at).desc(), col(Bisection.id).desc())
        .limit(limit)
    )
    return session.exec(statement).all()


def probes_of(*, session: Session, bisection_id: int) -> Sequence[BisectProbe]:
    statement = (
        select(BisectProbe)
        .where(BisectProbe.bisection_id == bisection_id)
        .order_by(col(BisectProbe.id))
    )
    return session.exec(statement).all()


def recorded_observations(
    *, session: Session, service: str, config_key: str, commits: Sequence[str]
) -> list[tuple[Build, Observation]]:
    """Finished builds of these commits under the same builder config, oldest first, as
    cached observations: what a bisection may reuse instead of rebuilding."""
    found: list[tuple[Build, Observation]] = []
    for start in range(0, len(commits), 500):
        chunk = list(commits[start : start + 500])
        statement = (
            select(Build)
            .where(Build.service == service, Build.config_key == config_key)
            .where(col(Build.commit).in_(chunk))
            .where(col(Build.status).in_([BuildStatus.passed, BuildStatus.failed]))
            .order_by(col(Build.id))
        )
        for build in session.exec(statement).all():
            outcome = "passed" if build.status == BuildStatus.passed else "failed"
            observation = Observation(
                commit=build.commit,
                outcome=outcome,  # type: ignore[arg-type]
                signature=build.signature if outcome == "failed" else None,
                duration_s=build.duration_s or 0.0,
                cached=True,
            )
            found.append((build, observation))
    found.sort(key=lambda pair: pair[0].id or 0)
    return found


def last_passing_ancestor_build(
    *, session: Session, service: str, config_key: str, is_ancestor: Callable[[str], bool]
) -> Build | None:
    """The newest passing build (same builder config) for which `is_ancestor(commit)` holds."""
    statement = (
        select(Build)
        .where(Build.service == service, Build.config_key == config_key)
        .where(Build.status == BuildStatus.passed)
        .order_by(col(Build.started_at).desc(), col(Build.id).desc())
        .limit(200)
    )
    for build in session.exec(statement).all():
        if is_ancestor(build.commit):
            return build
    return None


def flake_evidence(
    *,
    session: Session,
    service: str,
    target_signature: str,
    is_before: Callable[[str, str], bool],
    limit: int = 20,
) -> FlakeEvidence:
    """Pooled flake evidence of the service's last `limit` confirmed bisections of the same
    breakage signature; `is_before(commit, culprit)` tells whether a commit precedes a culprit
    (and so is known good)."""
    statement = (
        select(Bisection)
        .where(Bisection.service == service, Bisection.status == BisectionStatus.confirmed)
        .where(col(Bisection.culprit).is_not(None))
        .order_by(col(Bisection.id).desc())
    )
    evidence = FlakeEvidence()
    used = 0
    for bisection in session.exec(statement):
        if used >= limit:
            break
        if not matches_target(target_signature, bisection.signature):
            continue
        culprit = str(bisection.culprit)

        def known_good(commit: str, culprit: str = culprit) -> bool:
            return is_before(commit, culprit)

        observations = [
            Observation(
                commit=probe.commit,
                outcome=probe.outcome,  # type: ignore[arg-type]
                signature=probe.signature,
                cached=probe.cached,
            )
            for probe in probes_of(session=session, bisection_id=bisection.id or 0)
        ]
        evidence += evidence_from_bisection(
            observations,
            target_signature=target_signature,
            known_good=known_good,
        )
        used += 1
    return evidence
