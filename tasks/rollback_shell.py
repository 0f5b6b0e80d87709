"""The Prefect shell of a rollback run: `RollbackShell` (build_monitor.rollback.run) backed by
the rollback tasks, a Prefect transaction for undo, and a global concurrency limit of one slot
per service as its lock."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from prefect import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger
from prefect.transactions import transaction
from prefect.variables import Variable
from prefect_docker import DockerHost
from prefect_docker.credentials import DockerRegistryCredentials

from blocks.docker_registry import load_registry_credentials
from blocks.git import GitCredentials
from build_monitor.builders.registry import RegistryImage
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import CommitInfo
from build_monitor.history.reports import BuildReport
from build_monitor.notifications.events import NotificationEvent
from build_monitor.rollback.failures import ServiceBusy
from build_monitor.rollback.git_revert import RevertAttempt
from build_monitor.rollback.journal import RollbackJournal
from build_monitor.rollback.live_container import Handover, LiveState
from build_monitor.rollback.plan import concurrency_limit_name
from build_monitor.rollback.run import Logger
from tasks import registry
from tasks import rollback as steps
from tasks.blocks import load_docker_host, load_git_credentials
from tasks.check import check_and_record
from tasks.docker import check_image_health
from tasks.git import fetch_repository

LEASE_SECONDS = 60  # the shortest Prefect allows: a killed run frees its slot this soon


def ensure_concurrency_limit(name: str) -> None:
    """A global concurrency limit of one slot (created active; Prefect would create it
    inactive, which limits nothing)."""
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                )
            return
        if existing.limit != 1 or not existing.active:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(limit=1, active=True)
            )


@dataclass
class TaskShell:
    """`notify` sends in the background (the flow waits for it at its end)."""

    config: Config
    service: ServiceConfig
    notify: Callable[[NotificationEvent], None]
    flow_run_id: str | None
    logger: Logger = field(default_factory=get_run_logger)

    @cached_property
    def docker_host(self) -> DockerHost:
        return load_docker_host(self.config)

    @cached_property
    def credentials(self) -> GitCredentials | None:
        return load_git_credentials(self.service)

    def recover(self) -> None:
        steps.recover_service(self.config, self.service)

    def fetch(self) -> Path:
        return fetch_repository(self.service, self.config.cache_dir, self.credentials)

    def check_commit(self, mirror: Path, info: CommitInfo, trigger: str) -> BuildReport:
        return check_and_record(
            self.config, self.service, mirror, info, trigger=trigger, update_state=False
        )

    def read_variable(self, name: str) -> Any:
        return Variable.get(name, default=None)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        name = concurrency_limit_name(self.service.name)
        ensure_concurrency_limit(name)
        wait = self.service.rollback.lock_timeout_seconds
        with ExitStack() as stack:
            try:
                stack.enter_context(
                    concurrency(
                        name,
                        occupy=1,
                        timeout_seconds=wait,
                        lease_duration=LEASE_SECONDS,
                        strict=True,
                    )
                )
            except TimeoutError:
                raise ServiceBusy(
                    f"another rollback of {self.service.name} is running (waited {wait:g}s for it)"
                ) from None
            yield

    def undo_on_failure(self) -> AbstractContextManager[object]:
        return transaction()

    def read_live(self) -> LiveState:
        return steps.read_live_deployment(self.docker_host, self.service)

    def find_image(self, image: str) -> str | None:
        return steps.find_image(self.docker_host, image)

    def check_candidate(self, image: str, commit: str) -> StepResult:
        return cast(StepResult, check_image_health(self.docker_host, self.service, image, commit))

    def move_live_tag(self, journal: RollbackJournal, image: str) -> None:
        steps.move_live_tag(self.docker_host, journal, self.service, image)

    def hand_over(self, journal: RollbackJournal, image: str, commit: str) -> Handover:
        return steps.hand_over_live_container(
            self.docker_host, journal, self.service, image, commit
        )

    def verify_live(self) -> StepResult:
        return steps.verify_live_container(self.docker_host, self.service)

    @cached_property
    def registry_credentials(self) -> DockerRegistryCredentials | None:
        return load_registry_credentials(self.config)

    def pull_image(self, commit: str) -> RegistryImage | None:
        if self.registry_credentials is None:
            return None
        return registry.pull_image(
            self.docker_host, self.registry_credentials, self.service, commit
        )

    def push_live_tag(self, commit: str) -> RegistryImage | None:
        if self.registry_credentials is None:
            return None
        return registry.push_live_tag(
            self.docker_host, self.registry_credentials, self.service, commit
        )

    def create_revert(
        self, journal: RollbackJournal, mirror: Path, culprit: str, head: str, message: str
    ) -> RevertAttempt:
        return steps.create_revert_commit(
            self.config, journal, self.service, mirror, culprit, head, message
        )

    def create_restore(
        self, journal: RollbackJournal, mirror: Path, target: str, head: str, message: str
    ) -> RevertAttempt:
        return steps.create_restore_commit(journal, self.service, mirror, target, head, message)

    def push_revert(self, journal: RollbackJournal, mirror: Path, sha: str, branch: str) -> None:
        steps.push_revert(journal, self.service, mirror, sha, branch, self.credentials)

    def read_remote_branch(self, mirror: Path, branch: str) -> str | None:
        return steps.read_remote_branch(self.service, mirror, branch, self.credentials)
