"""Which monitored services a push concerns: same repository (any URL form) and branch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from build_monitor.webhooks.repo_urls import normalize_repo_url


@dataclass(frozen=True)
class WatchedRepo:
    """A monitored service as the intake sees it; `secret` is the effective secret (or token) for
    the forge at hand: the service's own override, else the forge-wide one, else None."""

    service: str
    repo: str
    branch: str
    secret: str | None = None


def services_for_repository(
    urls: Iterable[str], watched: Sequence[WatchedRepo]
) -> list[WatchedRepo]:
    keys = {key for key in (normalize_repo_url(url) for url in urls) if key}
    return [w for w in watched if normalize_repo_url(w.repo) in keys]


def services_for_branch(branch: str, candidates: Sequence[WatchedRepo]) -> list[WatchedRepo]:
    return [w for w in candidates if w.branch == branch]
