"""What the routes share: configuration, collaborators and the resolved secrets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from build_monitor.api.config import ApiConfig
from build_monitor.api.emitter import EventEmitter
from build_monitor.api.outbox import OutboxRelay
from build_monitor.api.rollback import StartRollback
from build_monitor.api.secrets import SecretResolver
from build_monitor.config import Config
from build_monitor.webhooks.config import SecretRef, ServiceWebhooksConfig, WebhooksConfig
from build_monitor.webhooks.matching import WatchedRepo
from build_monitor.webhooks.payloads import Forge

DashboardSource = Callable[[Session], list[dict[str, Any]]]


@dataclass
class AppContext:
    config: Config
    webhooks: WebhooksConfig
    api: ApiConfig
    service_webhooks: Mapping[str, ServiceWebhooksConfig]
    emitter: EventEmitter
    relay: OutboxRelay
    resolve_secret: SecretResolver
    start_rollback: StartRollback
    dashboard_sources: Mapping[str, DashboardSource] = field(default_factory=dict)
    ui_url: str | None = None

    @property
    def database_url(self) -> str:
        return self.config.database_url

    async def api_token(self) -> str | None:
        return await self.resolve_secret(self.api.token) if self.api.token else None

    async def watched_repos(self, forge: Forge) -> tuple[str | None, list[WatchedRepo]]:
        """The forge-wide secret and every service with its effective secret for `forge`."""
        forge_ref = self._forge_ref(self.webhooks, forge)
        resolved: dict[SecretRef, str | None] = {}

        async def resolve(ref: SecretRef | None) -> str | None:
            if ref is None:
                return None
            if ref not in resolved:
                resolved[ref] = await self.resolve_secret(ref)
            return resolved[ref]

        forge_secret = await resolve(forge_ref)
        watched: list[WatchedRepo] = []
        for service in self.config.services:
            override = self.service_webhooks.get(service.name)
            ref = (self._forge_ref(override, forge) if override else None) or forge_ref
            watched.append(
                WatchedRepo(
                    service=service.name,
                    repo=service.repo,
                    branch=service.branch,
                    secret=await resolve(ref),
                )
            )
        return forge_secret, watched

    @staticmethod
    def _forge_ref(
        source: WebhooksConfig | ServiceWebhooksConfig, forge: Forge
    ) -> SecretRef | None:
        return source.github_secret if forge == "github" else source.gitlab_token
