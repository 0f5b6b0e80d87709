"""Nothing stays `running` forever: a bisection whose process was killed (kill -9) becomes
`interrupted`, on this host by its dead pid, from another host by its stale heartbeat."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.history import bisections
from build_monitor.history.db import session_scope
from build_monitor.history.heartbeat import bisection_heartbeat
from build_monitor.history.models import Bisection, BisectionStatus, utcnow


def start(database_url: str, *, host: str | None = None, beat_age: timedelta | None = None) -> int:
    with session_scope(database_url) as session:
        bisection = bisections.start_bisection(
            session=session,
            service="svc",
            good="a" * 40,
            bad="b" * 40,
            trigger="cli",
            flow_run_id=None,
        )
        if host is not None:
            bisection.host, bisection.pid = host, 1
        if beat_age is not None:
            bisection.heartbeat_at = utcnow() - beat_age
        session.add(bisection)
        session.flush()
        assert bisection.id is not None
        return bisection.id


def killed_bisection(database_url: str) -> int:
    """A process starts a bisection with its heartbeat running, and is killed with SIGKILL."""
    script = (
        "import sys, time\n"
        "from datetime import timedelta\n"
        "from build_monitor.history import bisections\n"
        "from build_monitor.history.db import session_scope\n"
        "from build_monitor.history.heartbeat import bisection_heartbeat\n"
        f"url = {database_url!r}\n"
        "with session_scope(url) as s:\n"
        "    b = bisections.start_bisection(session=s, service='svc', good='c'*40, bad='d'*40,\n"
        "                                   trigger='cli', flow_run_id=None)\n"
        "with bisection_heartbeat(url, b.id, interval=timedelta(seconds=0.05)):\n"
        "    print(b.id, flush=True)\n"
        "    time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    bisection_id = int(process.stdout.readline())
    process.kill()
    process.wait()
    process.stdout.close()
    return bisection_id


def statuses(database_url: str) -> dict[int, BisectionStatus]:
    with session_scope(database_url) as session:
        return {b.id or 0: b.status for b in session.exec(select(Bisection)).all()}


def test_a_killed_bisection_is_marked_interrupted_and_a_live_one_is_not(
    database_url: str,
) -> None:
    killed = killed_bisection(database_url)
    live = start(database_url)  # this process: alive

    with session_scope(database_url) as session:
        marked = bisections.mark_interrupted_bisections(
            session=session, stale_heartbeat_after=timedelta(hours=1)
        )

    assert marked == 1
    assert statuses(database_url) == {
        killed: BisectionStatus.interrupted,
        live: BisectionStatus.running,
    }
    with session_scope(database_url) as session:
        record = session.get(Bisection, killed)
        assert record is not None and record.finished_at is not None and record.reason


def test_another_hosts_bisection_is_interrupted_once_its_heartbeat_is_stale(
    database_url: str,
) -> None:
    stale = start(database_url, host="build-host-2", beat_age=timedelta(minutes=30))
    beating = start(database_url, host="build-host-2", beat_age=timedelta(seconds=10))

    with session_scope(database_url) as session:
        marked = bisections.mark_interrupted_bisections(
            session=session, stale_heartbeat_after=timedelta(minutes=5)
        )

    assert marked == 1
    assert statuses(database_url) == {
        stale: BisectionStatus.interrupted,
        beating: BisectionStatus.running,
    }


def heartbeat_at(database_url: str, bisection_id: int) -> datetime:
    with session_scope(database_url) as session:
        record = session.get(Bisection, bisection_id)
        assert record is not None and record.heartbeat_at is not None
        return record.heartbeat_at


def test_the_heartbeat_beats_on_entry_and_then_periodically(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    bisection_id = start(url, beat_age=timedelta(hours=2))
    pause = threading.Event()

    with bisection_heartbeat(url, bisection_id, interval=timedelta(seconds=0.02)):
        first = heartbeat_at(url, bisection_id)
        assert utcnow() - first < timedelta(hours=1)
        later = first
        for _ in range(500):
            later = heartbeat_at(url, bisection_id)
            if later > first:
                break
            pause.wait(0.02)
    assert later > first


def test_history_shows_a_killed_bisection_as_interrupted(tmp_path: Path, data_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    killed_bisection(url)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "{url}"\n\n[[services]]\nname = "svc"\nrepo = "/srv/svc"\n'
    )

    result = CliRunner().invoke(app, ["history", "svc", "--json", "--config", str(config)])

    assert result.exit_code == 0, result.output
    [bisection] = json.loads(result.stdout)["bisections"]
    assert bisection["status"] == "interrupted"
