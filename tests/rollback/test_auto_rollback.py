"""Automatic rollbacks through the flow: each gate refuses on its own, dry-run changes nothing,
and only one rollback per service runs at a time (a Prefect global concurrency limit)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.concurrency.sync import concurrency
from prefect.variables import Variable

from build_monitor.config import Config, load_config
from build_monitor.history.db import session_scope
from build_monitor.history.models import BuildStatus, Rollback, RollbackStatus
from build_monitor.sample.service import SampleRepo, create_sample_service
from flows.rollback import maybe_auto_rollback, rollback_service
from tasks.rollback_shell import ensure_concurrency_limit
from tests.rollback.helpers import record_build, rollback_config

pytestmark = [pytest.mark.prefect]
RECENT = datetime.now(UTC) - timedelta(hours=1)


@dataclass(frozen=True)
class AutoService:
    name: str
    config: Config
    repo: SampleRepo
    kill_file: Path

    @property
    def culprit(self) -> str:
        assert self.repo.culprit is not None
        return self.repo.culprit

    @property
    def good(self) -> str:
        assert self.repo.good is not None
        return self.repo.good

    def auto(self, **changes: object) -> str:
        outcome = maybe_auto_rollback(
            self.config,
            self.name,
            self.culprit,
            self.good,
            **{"culprit_committed_at": RECENT, **changes},  # type: ignore[arg-type]
        )
        assert outcome is not None
        return outcome.status if outcome.status != "refused" else f"refused {outcome.error}"

    def add_automatic_rollback(self, culprit: str) -> None:
        with session_scope(self.config.database_url) as session:
            session.add(
                Rollback(
                    service=self.name,
                    strategy="revert",
                    trigger="bisect",
                    culprit=culprit,
                    automatic=True,
                    status=RollbackStatus.succeeded,
                )
            )


def make_service(tmp_path: Path, **rollback: object) -> AutoService:
    repo = create_sample_service(
        tmp_path / "repo", scenario="test_failure", good_commits=2, commits_after_break=0
    )
    name = f"au-{uuid.uuid4().hex[:8]}"
    kill_file = tmp_path / "auto-rollback.off"
    settings = {"strategy": "revert", "auto": True, "dry_run": True, **rollback}
    path = rollback_config(
        tmp_path,
        repo,
        name=name,
        builder="local",
        rollback=settings,
        extra=(
            f'[rollback]\nkill_switch_file = "{kill_file}"\n'
            f'kill_switch_variable = "kill_{name.replace("-", "_")}"\n'
        ),
    )
    config = load_config(path)
    assert repo.good is not None
    record_build(config.database_url, name, repo.good, BuildStatus.passed)
    return AutoService(name, config, repo, kill_file)


@pytest.fixture
def service(prefect_api_url: str, tmp_path: Path) -> AutoService:
    return make_service(tmp_path)


def test_without_auto_nothing_runs(prefect_api_url: str, tmp_path: Path) -> None:
    service = make_service(tmp_path, auto=False)
    assert maybe_auto_rollback(service.config, service.name, service.culprit, service.good) is None


def test_dry_run_decides_and_records_but_changes_nothing(service: AutoService) -> None:
    assert service.auto() == "dry_run"
    with session_scope(service.config.database_url) as session:
        record = session.query(Rollback).filter(Rollback.service == service.name).one()
        assert (record.automatic, record.dry_run, record.culprit) == (True, True, service.culprit)
    # A dry run does not count against the daily limit, nor as "already rolled back".
    assert service.auto() == "dry_run"


def test_the_kill_switch_file_stops_automatic_but_not_manual_rollbacks(
    service: AutoService,
) -> None:
    service.kill_file.write_text("off\n")
    assert service.auto().startswith("refused kill_switch")
    manual = rollback_service(
        service.config, service.name, commit=service.good, reason="by hand", dry_run=True
    )
    assert manual.status == "dry_run"


def test_the_kill_switch_prefect_variable(service: AutoService) -> None:
    name = service.config.rollback.kill_switch_variable
    Variable.set(name, "true", overwrite=True)
    try:
        assert service.auto().startswith("refused kill_switch")
    finally:
        Variable.unset(name)
    assert service.auto() == "dry_run"


def test_at_most_n_automatic_rollbacks_a_day(prefect_api_url: str, tmp_path: Path) -> None:
    service = make_service(tmp_path, max_auto_per_day=1)
    service.add_automatic_rollback("f" * 40)
    assert service.auto().startswith("refused daily_limit")


def test_an_automatic_rollback_never_loops(service: AutoService) -> None:
    service.add_automatic_rollback(service.culprit)
    assert service.auto().startswith("refused no_loop")


def test_a_culprit_older_than_the_limit_is_refused(service: AutoService) -> None:
    # The sample's commits are from 2024: far older than the 72 h default.
    assert service.auto(culprit_committed_at=None).startswith("refused culprit_age")


def test_a_target_whose_build_failed_is_refused(service: AutoService) -> None:
    record_build(service.config.database_url, service.name, service.good, BuildStatus.failed)
    assert service.auto().startswith("refused target_passes")


def test_only_one_rollback_per_service_at_a_time(prefect_api_url: str, tmp_path: Path) -> None:
    service = make_service(tmp_path, dry_run=False, lock_timeout_seconds=3)
    name = f"rollback-{service.name}"
    ensure_concurrency_limit(name)
    with concurrency(name, occupy=1, timeout_seconds=30, strict=True):
        outcome = rollback_service(
            service.config, service.name, commit=service.good, reason="while another runs"
        )
    assert outcome.status == "refused"
    assert "another rollback" in str(outcome.error)
    assert outcome.steps == []
