"""A service is never left without a live container: a rollback killed in the middle of the
handover (the old container renamed and stopped, the new one not started) is undone on its
own, by the next monitor run or by `status`; and of two concurrent rollbacks, the second
records the commit it actually replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from build_monitor.builders.docker import image_tag
from build_monitor.config import load_config
from build_monitor.history.db import session_scope
from build_monitor.history.models import Rollback
from build_monitor.prefect_runtime import in_current_context
from build_monitor.rollback.outcome import RollbackReport
from flows.rollback import rollback_service
from tasks.rollback_shell import TaskShell
from tests.rollback.helpers import (
    DockerService,
    built_docker_service,
    clear_live,
    live,
    live_revision,
    service_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.prefect]
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    prefect_api_url: str,
    rust_image: str,
    docker_client: docker.DockerClient,
) -> Iterator[DockerService]:
    """Three good commits (revisions 1 to 3) with images, and a broken one."""
    with built_docker_service(
        tmp_path_factory.mktemp("recovery"), rust_image, docker_client, good_commits=3
    ) as built:
        yield built


@pytest.fixture
def no_live(service: DockerService, docker_client: docker.DockerClient) -> Iterator[None]:
    clear_live(docker_client, service.name)
    yield
    clear_live(docker_client, service.name)


def rollback_status(service: DockerService, reason: str) -> tuple[int, str]:
    with session_scope(service.database_url) as session:
        record = session.query(Rollback).filter(Rollback.reason == reason).one()
        assert record.id is not None
        return record.id, record.status.value


def assert_down_mid_handover(service: DockerService, docker_client: docker.DockerClient) -> None:
    """What the kill left: the old container renamed `-previous-N` and stopped."""
    running = [c.name for c in docker_client.containers.list(filters={"name": service.name})]
    assert f"bm-{service.name}" not in running
    assert any("-previous-" in name for name in service_containers(docker_client, service.name))
    assert live_revision(service.port, timeout=2) is None


def test_the_second_of_two_concurrent_rollbacks_records_what_it_replaced(
    service: DockerService,
    docker_client: docker.DockerClient,
    no_live: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second rollback opens its record while revision 1 is live, then waits for the lock
    while the first one replaces revision 1 by 2: it replaced 2, not 1."""
    first, second, third = service.good
    assert service.cli("deploy", service.name, "--commit", first)[0] == 0
    config = load_config(service.config)
    take_lock = TaskShell.exclusive
    earlier: list[RollbackReport] = []
    started: set[str] = set()

    def other_rollback() -> None:
        earlier.append(
            rollback_service(config, service.name, action="deploy", commit=second, reason="first")
        )

    def lock_after_the_other_rollback(shell: TaskShell):  # type: ignore[no-untyped-def]
        if shell.service.name not in started:
            # The other rollback, a flow of its own on this Prefect API, takes the lock and
            # finishes.
            started.add(shell.service.name)
            other = threading.Thread(target=in_current_context(other_rollback))
            other.start()
            other.join()
        return take_lock(shell)

    monkeypatch.setattr(TaskShell, "exclusive", lock_after_the_other_rollback)
    code, outcome = service.cli("deploy", service.name, "--commit", third, "--reason", "second")

    (other,) = earlier
    assert (other.status, other.from_commit, other.to_commit) == ("succeeded", first, second)
    assert (code, outcome["status"]) == (0, "succeeded"), outcome
    assert (outcome["from"], outcome["to"]) == (second, third)
    assert live_revision(service.port) == 3
    code, history = service.cli("history", service.name)
    # Newest start first: the second rollback was started before the other one.
    assert [(r["reason"], r["from"], r["to"]) for r in history["rollbacks"][:2]] == [
        ("first", first, second),
        ("second", second, third),
    ]


# Performs one journaled handover (as a redeploy does) and dies by SIGKILL when the old
# container is renamed and stopped but the new one not yet started.
_HANDOVER_DRIVER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    import docker

    from build_monitor.config import load_config
    from build_monitor.history.models import Rollback
    from build_monitor.rollback import live_container, steps
    from build_monitor.rollback.journal import RollbackJournal

    config_path, name, image, commit, reason = sys.argv[1:]
    config = load_config(Path(config_path))
    service = config.service(name)
    journal = RollbackJournal.open(
        config.database_url,
        Rollback(service=name, strategy="redeploy", reason=reason, to_commit=commit),
    )

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    live_container.start_live_container = die
    steps.hand_over(docker.from_env(), journal, service, image=image, commit=commit)
    """
)


def test_status_recovers_a_handover_killed_mid_way_and_reports_it(
    service: DockerService, docker_client: docker.DockerClient, no_live: None, tmp_path: Path
) -> None:
    first, second, _ = service.good
    assert service.cli("deploy", service.name, "--commit", second)[0] == 0
    before = live(docker_client, service.name).id
    driver = tmp_path / "handover.py"
    driver.write_text(_HANDOVER_DRIVER)
    reason = "handover killed under status"
    completed = subprocess.run(
        [
            sys.executable,
            str(driver),
            str(service.config),
            service.name,
            image_tag(service.name, first),
            first,
            reason,
        ],
        capture_output=True,
        timeout=300,
        cwd=PROJECT,
        check=False,
    )
    assert completed.returncode == -signal.SIGKILL, completed.stderr.decode()[-2000:]
    assert_down_mid_handover(service, docker_client)
    rollback_id, _ = rollback_status(service, reason)

    code, status = service.cli("status")
    assert code == 0
    assert status["recovered_rollbacks"] == [{"service": service.name, "rollback_id": rollback_id}]
    assert live(docker_client, service.name).id == before
    assert live_revision(service.port) == 2
    assert rollback_status(service, reason) == (rollback_id, "interrupted")
    assert service_containers(docker_client, service.name) == [f"bm-{service.name}"]
    assert service.cli("status")[1]["recovered_rollbacks"] == []


# Last in this module: the killed run keeps the service's rollback concurrency slot on the test
# server until its 60 s lease runs out, which would refuse any later rollback of this service.
_KILLED_ROLLBACK_DRIVER = textwrap.dedent(
    """
    import os, signal, sys
    from build_monitor.rollback import live_container
    from build_monitor.cli import app

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    live_container.start_live_container = die
    sys.argv = ["build-monitor", *sys.argv[1:]]
    app()
    """
)


def test_a_rollback_killed_mid_handover_is_undone_by_the_next_monitor_run(
    service: DockerService,
    docker_client: docker.DockerClient,
    no_live: None,
    tmp_path: Path,
    prefect_api_url: str,
) -> None:
    """No command from a person: the service's next scheduled monitor run (called here as its
    deployment's schedule would) puts the old container back on the live port."""
    from flows.monitor import monitor

    first, second, _ = service.good
    assert service.cli("deploy", service.name, "--commit", second)[0] == 0
    before = live(docker_client, service.name).id
    driver = tmp_path / "rollback.py"
    driver.write_text(_KILLED_ROLLBACK_DRIVER)
    reason = "killed mid-handover"
    completed = subprocess.run(
        [
            sys.executable,
            str(driver),
            "rollback",
            service.name,
            first,
            reason,
            "--config",
            str(service.config),
        ],
        capture_output=True,
        timeout=300,
        cwd=PROJECT,
        env={**os.environ, "PREFECT_API_URL": prefect_api_url},
        check=False,
    )
    assert completed.returncode == -signal.SIGKILL, completed.stderr.decode()[-2000:]
    assert_down_mid_handover(service, docker_client)
    assert rollback_status(service, reason)[1] == "running"

    monitor(service=service.name, trigger="poll", config_path=str(service.config))

    assert live(docker_client, service.name).id == before
    assert live_revision(service.port) == 2
    assert rollback_status(service, reason)[1] == "interrupted"
    assert service_containers(docker_client, service.name) == [f"bm-{service.name}"]
