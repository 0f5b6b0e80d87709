"""The history database: transactional writes, interrupted builds, timezone-aware timestamps."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build, BuildCreate, BuildStage, BuildStatus, ServiceState


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield server_url.rsplit("/", 1)[0] + f"/{name}"
    admin.dispose()


def start(database_url: str, commit: str = "a" * 40) -> int:
    with session_scope(database_url) as session:
        crud.upsert_service(session=session, name="svc", repo="/r", branch="main")
        build = crud.start_build(
            session=session, build_in=BuildCreate(service="svc", commit=commit)
        )
        assert build.id is not None
        return build.id


def test_build_lifecycle_and_timezone_aware_timestamps(database_url: str) -> None:
    build_id = start(database_url)
    with session_scope(database_url) as session:
        crud.finish_build(
            session=session,
            build_id=build_id,
            status=BuildStatus.failed,
            stage=BuildStage.test,
            signature="test failed: t",
            log_excerpt="x",
            image=None,
            attempts=1,
        )
        crud.set_service_state(
            session=session, name="svc", state=ServiceState.failing, last_build_id=build_id
        )
    with session_scope(database_url) as session:
        build = session.get(Build, build_id)
        assert build is not None
        assert build.started_at.tzinfo is not None and build.finished_at is not None
        assert build.finished_at.utcoffset() == timedelta(0)
        assert build.duration_s is not None and build.duration_s >= 0
        assert crud.get_service(session=session, name="svc").state == ServiceState.failing  # type: ignore[union-attr]


def test_a_failed_transaction_writes_nothing(database_url: str) -> None:
    start(database_url)
    with pytest.raises(RuntimeError), session_scope(database_url) as session:
        crud.start_build(session=session, build_in=BuildCreate(service="svc", commit="b" * 40))
        raise RuntimeError("crash mid-write")
    with session_scope(database_url) as session:
        commits = session.exec(select(Build.commit)).all()
    assert commits == ["a" * 40]


def test_a_build_whose_process_died_becomes_interrupted(database_url: str) -> None:
    script = (
        "import os, sys\n"
        "from build_monitor.history import crud\n"
        "from build_monitor.history.db import session_scope\n"
        "from build_monitor.history.models import BuildCreate\n"
        f"with session_scope({database_url!r}) as s:\n"
        "    crud.start_build(session=s, build_in=BuildCreate(service='svc', commit='c'*40))\n"
        "os._exit(9)\n"  # dies mid-build, as a killed worker would
    )
    subprocess.run([sys.executable, "-c", script], check=False)
    live_id = start(database_url, commit="d" * 40)
    with session_scope(database_url) as session:
        marked = crud.mark_interrupted_builds(session=session, stale_after=timedelta(hours=1))
    assert marked == 1
    with session_scope(database_url) as session:
        statuses = {b.commit[0]: b.status for b in session.exec(select(Build)).all()}
        live = session.get(Build, live_id)
    assert statuses == {"c": BuildStatus.interrupted, "d": BuildStatus.running}
    assert live is not None and live.started_at.tzinfo == UTC


def test_history_is_newest_first_with_paging(database_url: str) -> None:
    ids = [start(database_url, commit=str(i) * 40) for i in range(5)]
    with session_scope(database_url) as session:
        page = crud.list_builds(session=session, service="svc", limit=2, offset=1)
        assert [b.id for b in page] == [ids[3], ids[2]]
        assert crud.built_commits(session=session, service="svc", commits=["0" * 40]) == set()
