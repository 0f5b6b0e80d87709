"""Per-test results: migration 0004 upgrades a database at 0003 and keeps its rows; builds'
test results are written and read back as test logs and as per-test runs."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import MetaData, create_engine, text

from build_monitor.bisection.flake_rates import TestRun
from build_monitor.bisection.libtest import TestOutcome, parse_test_log
from build_monitor.history import crud, schema, test_results
from build_monitor.history.db import get_engine, session_scope
from build_monitor.history.models import BuildCreate

CARGO_OUTPUT = """\
     Running unittests src/main.rs (target/release/deps/svc-0123456789abcdef)

running 2 tests
test tests::predicts ... ok
test tests::warm_cache_hits ... FAILED

failures:

---- tests::warm_cache_hits stdout ----

thread 'tests::warm_cache_hits' panicked at src/main.rs:88:9:
cache miss after warm-up

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""


def test_a_database_at_0003_is_upgraded_and_keeps_its_rows(database_url: str) -> None:
    engine = create_engine(database_url)
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "0003")
        tables = MetaData()
        tables.reflect(connection)
        connection.execute(
            tables.tables["builds"].insert(),
            {
                "service": "svc-h1",
                "commit": "c" * 40,
                "author": "a",
                "subject": "s",
                "builder": "local",
                "trigger": "check",
                "status": "failed",
                "attempts": 1,
                "started_at": started,
            },
        )
        connection.execute(
            tables.tables["bisections"].insert(),
            {
                "service": "svc-h1",
                "good": "a" * 40,
                "bad": "c" * 40,
                "trigger": "cli",
                "status": "confirmed",
                "builds": 3,
                "started_at": started,
            },
        )
    engine.dispose()

    upgraded = get_engine(database_url)

    assert schema.status(upgraded, database_url).current == schema.head_revision()
    with session_scope(database_url) as session:
        [build] = crud.list_builds(session=session, service="svc-h1")
        assert (build.commit, build.started_at) == ("c" * 40, started)
        assert build.id is not None
        rows = test_results.record_test_results(
            session=session, build_id=build.id, log=parse_test_log(CARGO_OUTPUT)
        )
        assert rows == 2
        count = session.connection().execute(text("SELECT count(*) FROM bisections")).scalar()
        assert count == 1
    with session_scope(database_url) as session:
        logs = test_results.test_logs_of_builds(session=session, build_ids=[build.id])
        runs = test_results.test_runs_of_service(session=session, service="svc-h1")
    [run] = logs[build.id].binaries
    assert run.binary == "unittests src/main.rs"
    assert dict(run.results) == {
        "tests::predicts": TestOutcome.OK,
        "tests::warm_cache_hits": TestOutcome.FAILED,
    }
    assert dict(run.panics) == {"tests::warm_cache_hits": "src/main.rs:88:9"}
    assert sorted(runs, key=lambda r: r.name) == [
        TestRun("c" * 40, "tests::predicts", TestOutcome.OK),
        TestRun("c" * 40, "tests::warm_cache_hits", TestOutcome.FAILED),
    ]


def test_output_that_is_not_libtest_stores_nothing(tmp_path: object) -> None:
    log = parse_test_log("custom check: 3 problems found\n")
    assert not log.is_libtest and log.binaries == ()


def test_builds_without_test_results_have_no_test_log(database_url: str) -> None:
    get_engine(database_url)
    with session_scope(database_url) as session:
        build = crud.start_build(
            session=session, build_in=BuildCreate(service="svc-h1", commit="d" * 40)
        )
        assert build.id is not None
        assert test_results.test_logs_of_builds(session=session, build_ids=[build.id]) == {}
