"""Probe claims of distributed bisections: one live owner at a time, a stale owner taken over,
the first stored result kept; and the 0005 migration keeps an older database's rows."""

from __future__ import annotations

import threading
from datetime import timedelta

from alembic import command
from sqlalchemy import create_engine, text
from sqlmodel import select

from build_monitor.history import bisections, probe_claims, schema
from build_monitor.history.db import get_engine, session_scope
from build_monitor.history.models import Bisection, ProbeClaim, utcnow

STALE = timedelta(seconds=20)


def _bisection(url: str) -> int:
    with session_scope(url) as session:
        bisection = bisections.start_bisection(
            session=session,
            service="svc",
            good="a" * 40,
            bad="b" * 40,
            trigger="t",
            flow_run_id=None,
        )
        assert bisection.id is not None
        return bisection.id


def _claim(url: str, probe_id: int, owner: str) -> probe_claims.ClaimOutcome:
    with session_scope(url) as session:
        return probe_claims.claim_probe(
            session=session, probe_id=probe_id, owner=owner, stale_after=STALE
        )


def test_a_live_claim_is_held_by_one_owner_and_a_stale_one_is_taken_over(
    database_url: str,
) -> None:
    bisection_id = _bisection(database_url)
    with session_scope(database_url) as session:
        probe_id = probe_claims.request_probe(
            session=session, bisection_id=bisection_id, commit="c" * 40
        )
    assert _claim(database_url, probe_id, "run-1").claimed
    held = _claim(database_url, probe_id, "run-2")
    assert (held.claimed, held.owner, held.result) == (False, "run-1", None)
    assert _claim(database_url, probe_id, "run-1").claimed  # the owner again: still its own

    with session_scope(database_url) as session:  # run-1's process died 30 s ago
        claim = session.get(ProbeClaim, probe_id)
        assert claim is not None
        claim.heartbeat_at = utcnow() - timedelta(seconds=30)
        session.add(claim)
    assert _claim(database_url, probe_id, "run-2").claimed
    with session_scope(database_url) as session:
        assert not probe_claims.beat_probe(session=session, probe_id=probe_id, owner="run-1")
        assert probe_claims.beat_probe(session=session, probe_id=probe_id, owner="run-2")
        claim = probe_claims.read_probe(session=session, probe_id=probe_id)
        assert (claim.owner, claim.attempts, claim.status) == ("run-2", 3, "running")


def test_the_first_stored_result_is_the_result_and_ends_every_claim(database_url: str) -> None:
    bisection_id = _bisection(database_url)
    with session_scope(database_url) as session:
        probe_id = probe_claims.request_probe(
            session=session, bisection_id=bisection_id, commit="c" * 40
        )
    assert _claim(database_url, probe_id, "run-1").claimed
    with session_scope(database_url) as session:
        first = probe_claims.finish_probe(
            session=session, probe_id=probe_id, owner="run-1", result='{"first": 1}'
        )
        late = probe_claims.finish_probe(
            session=session, probe_id=probe_id, owner="run-2", result='{"second": 2}'
        )
    assert first == late == '{"first": 1}'
    done = _claim(database_url, probe_id, "run-3")
    assert (done.claimed, done.result) == (False, '{"first": 1}')


def test_a_failed_run_gives_its_claim_back_at_once(database_url: str) -> None:
    bisection_id = _bisection(database_url)
    with session_scope(database_url) as session:
        probe_id = probe_claims.request_probe(
            session=session, bisection_id=bisection_id, commit="c" * 40
        )
    assert _claim(database_url, probe_id, "run-1").claimed
    with session_scope(database_url) as session:
        probe_claims.release_probe(session=session, probe_id=probe_id, owner="run-2")  # not its
    assert not _claim(database_url, probe_id, "run-2").claimed
    with session_scope(database_url) as session:
        probe_claims.release_probe(session=session, probe_id=probe_id, owner="run-1")
    assert _claim(database_url, probe_id, "run-2").claimed


def test_concurrent_claims_leave_exactly_one_owner(database_url: str) -> None:
    bisection_id = _bisection(database_url)
    with session_scope(database_url) as session:
        probe_id = probe_claims.request_probe(
            session=session, bisection_id=bisection_id, commit="c" * 40
        )
    outcomes: dict[str, bool] = {}
    start = threading.Barrier(6)

    def contend(owner: str) -> None:
        start.wait()
        outcomes[owner] = _claim(database_url, probe_id, owner).claimed

    threads = [threading.Thread(target=contend, args=(f"run-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == [False] * 5 + [True]


def test_the_heartbeat_keeps_a_claim_fresh(database_url: str) -> None:
    bisection_id = _bisection(database_url)
    with session_scope(database_url) as session:
        probe_id = probe_claims.request_probe(
            session=session, bisection_id=bisection_id, commit="c" * 40
        )
    assert _claim(database_url, probe_id, "run-1").claimed
    with session_scope(database_url) as session:
        claimed_at = probe_claims.read_probe(session=session, probe_id=probe_id).heartbeat_at
    beaten = threading.Event()
    with probe_claims.probe_heartbeat(
        database_url, probe_id, "run-1", interval=timedelta(seconds=0.05)
    ):
        for _ in range(200):
            with session_scope(database_url) as session:
                now = probe_claims.read_probe(session=session, probe_id=probe_id).heartbeat_at
            if now != claimed_at:
                beaten.set()
                break
            threading.Event().wait(0.05)
    assert beaten.is_set()


def test_a_0004_database_upgrades_to_probe_claims_and_keeps_its_rows(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "0004")
        connection.execute(
            text(
                "INSERT INTO bisections (id, service, good, bad, status, trigger, builds, "
                "started_at) VALUES (7, 'svc', 'g', 'b', 'confirmed', 'cli', 3, :now)"
            ),
            {"now": utcnow()},
        )
    engine.dispose()

    upgraded = get_engine(database_url)
    assert schema.status(upgraded, database_url).current == "0005"
    with session_scope(database_url) as session:
        [kept] = session.exec(select(Bisection)).all()
        assert (kept.id, kept.builds) == (7, 3)
        probe_id = probe_claims.request_probe(session=session, bisection_id=7, commit="c" * 40)
        assert [c.id for c in probe_claims.claims_of(session=session, bisection_id=7)] == [probe_id]
