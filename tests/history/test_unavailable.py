"""A history database that cannot be written: locked for good by another connection, or
read-only (an immutable file, which fails even for root). A build result is kept in the spool
and written by the next command; errors are one line that names the database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from build_monitor.history import crud, db, spool
from build_monitor.history.db import (
    HistoryLockedError,
    HistoryReadOnlyError,
    get_engine,
    session_scope,
)
from build_monitor.history.models import Build, BuildCreate, BuildStatus, ServiceState
from build_monitor.history.results import ResultSpooledError, finish_build_or_spool
from build_monitor.history.spool import BuildResult

BUILD_MONITOR = Path(sys.executable).parent / "build-monitor"


@pytest.fixture(autouse=True)
def short_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines made in this module wait 0.5 s for a lock, not the 10 s users get."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.5)


@pytest.fixture
def database(tmp_path: Path, data_dir: Path) -> tuple[Path, str]:
    path = tmp_path / "db" / "history.db"
    return path, f"sqlite:///{path}"


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths made immutable (`chattr +i`), made mutable again after the test."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def make_immutable(paths: list[Path], path: Path) -> None:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(
            "chattr +i failed: these tests need root (CAP_LINUX_IMMUTABLE) and a file system "
            f"with immutable files (ext4, xfs, btrfs; not tmpfs): {done.stderr.strip()}"
        )
    paths.append(path)


def running_build(database_url: str) -> int:
    with session_scope(database_url) as session:
        crud.upsert_service(session=session, name="svc", repo="/srv/svc", branch="main")
        build = crud.start_build(
            session=session, build_in=BuildCreate(service="svc", commit="a" * 40)
        )
        assert build.id is not None
        return build.id


def passed(build_id: int) -> BuildResult:
    return BuildResult(
        build_id=build_id, status=BuildStatus.passed, image="bm-svc:aaaa", attempts=1
    )


def assert_one_line_naming(message: str, path: Path) -> None:
    assert str(path) in message
    assert "\n" not in message
    assert "SQL" not in message and "UPDATE" not in message and "Traceback" not in message


def config_file(directory: Path, database_url: str) -> Path:
    path = directory / "config.toml"
    path.write_text(
        f'[storage]\ndatabase_url = "{database_url}"\n\n'
        '[[services]]\nname = "svc"\nrepo = "/srv/svc"\nbuilder = "local"\n'
    )
    return path


def test_a_result_the_locked_database_cannot_take_is_spooled_and_written_by_the_next_command(
    database: tuple[Path, str], tmp_path: Path, data_dir: Path
) -> None:
    path, url = database
    build_id = running_build(url)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # held for good, as by a stuck process

    with pytest.raises(ResultSpooledError) as raised:
        finish_build_or_spool(database_url=url, result=passed(build_id))

    message = str(raised.value)
    assert_one_line_naming(message, path)
    assert "locked" in message and str(spool.spool_path()) in message
    [entry] = [json.loads(line) for line in spool.spool_path().read_text().splitlines()]
    assert entry["result"]["build_id"] == build_id and url not in json.dumps(entry)
    holder.rollback()
    holder.close()

    shown = subprocess.run(
        [
            str(BUILD_MONITOR),
            "history",
            "svc",
            "--json",
            "--config",
            str(config_file(tmp_path, url)),
        ],
        env={**os.environ, "BUILD_MONITOR_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    [build] = json.loads(shown.stdout)["builds"]
    assert (build["status"], build["image"]) == ("passed", "bm-svc:aaaa")
    assert not spool.spool_path().exists()
    with session_scope(url) as session:
        service = crud.get_service(session=session, name="svc")
        assert service is not None and service.state == ServiceState.healthy


def test_a_replayed_result_keeps_the_state_a_later_build_set(
    database: tuple[Path, str],
) -> None:
    _, url = database
    spooled_id = running_build(url)
    later_id = running_build(url)
    with session_scope(url) as session:
        crud.finish_build(
            session=session,
            build_id=later_id,
            status=BuildStatus.failed,
            stage=None,
            signature="test failed: t",
            log_excerpt=None,
            image=None,
            attempts=1,
        )
        crud.set_service_state(
            session=session, name="svc", state=ServiceState.failing, last_build_id=later_id
        )
    spool.append(url, passed(spooled_id))

    assert spool.replay(url, get_engine(url)) == 1

    with session_scope(url) as session:
        assert session.get(Build, spooled_id).status == BuildStatus.passed  # type: ignore[union-attr]
        service = crud.get_service(session=session, name="svc")
        assert service is not None
        assert (service.state, service.last_build_id) == (ServiceState.failing, later_id)
    assert spool.pending(url) == []


def test_a_spooled_result_waits_while_the_database_stays_locked(
    database: tuple[Path, str],
) -> None:
    path, url = database
    build_id = running_build(url)
    spool.append(url, passed(build_id))
    spool.append("sqlite:////elsewhere/other.db", passed(1))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")

    assert spool.replay(url, get_engine(url)) == 0

    holder.rollback()
    holder.close()
    assert [r.build_id for r in spool.pending(url)] == [build_id]
    assert spool.replay(url, get_engine(url)) == 1
    assert [r.build_id for r in spool.pending("sqlite:////elsewhere/other.db")] == [1]


def test_a_write_to_a_locked_database_waits_only_the_busy_timeout_and_names_it(
    database: tuple[Path, str],
) -> None:
    path, url = database
    running_build(url)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryLockedError) as raised, session_scope(url) as session:
            crud.start_build(session=session, build_in=BuildCreate(service="svc", commit="b" * 40))
    finally:
        holder.rollback()
        holder.close()
    assert_one_line_naming(str(raised.value), path)


def test_a_read_only_database_gives_one_line_and_keeps_the_result(
    database: tuple[Path, str], immutable: list[Path]
) -> None:
    path, url = database
    build_id = running_build(url)
    get_engine(url).dispose()
    make_immutable(immutable, path)

    with pytest.raises(HistoryReadOnlyError) as raised, session_scope(url) as session:
        crud.start_build(session=session, build_in=BuildCreate(service="svc", commit="b" * 40))
    assert_one_line_naming(str(raised.value), path)
    assert "read-only" in str(raised.value)

    with pytest.raises(ResultSpooledError):
        finish_build_or_spool(database_url=url, result=passed(build_id))
    assert [r.build_id for r in spool.pending(url)] == [build_id]
    with session_scope(url) as session:  # reads still work
        assert session.exec(select(Build.status)).all() == [BuildStatus.running]


def test_the_cli_gives_one_line_for_a_locked_and_for_a_read_only_database(
    tmp_path: Path, data_dir: Path, immutable: list[Path]
) -> None:
    """`db upgrade` must write; a database from before the migrations makes it try."""
    path = tmp_path / "legacy.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        (Path(__file__).parent.parent / "data" / "history_released.sql").read_text()
    )
    connection.close()
    config = config_file(tmp_path, f"sqlite:///{path}")
    env = {**os.environ, "BUILD_MONITOR_DATA_DIR": str(data_dir)}

    def upgrade() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BUILD_MONITOR), "db", "upgrade", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = upgrade()
    finally:
        holder.rollback()
        holder.close()
    make_immutable(immutable, path)
    read_only = upgrade()

    for result, word in ((locked, "locked"), (read_only, "read-only")):
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and word in line
        assert_one_line_naming(line, path)
