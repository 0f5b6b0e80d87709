"""How one round's probes run: as concurrent tasks in the bisect flow's own process, or, with
`[services.bisect] distributed = true`, as runs of the `bisect-probe` deployment that the
workers on the pool take (flows/probe.py; this process only waits for their results)."""

from __future__ import annotations

from pathlib import Path

from prefect.futures import PrefectFuture

from build_monitor.bisection.rounds import ProbeResult
from build_monitor.config import Config, ServiceConfig
from tasks.bisect import probe_commit
from tasks.probe_runs import probe_on_worker


def run_probes(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    commits: list[str],
    bisection_id: int,
    keep_checked_out: list[str],
) -> list[ProbeResult]:
    """Probe `commits` concurrently and return their results in the same order."""
    futures = submit_probes(config, service, mirror, commits, bisection_id, keep_checked_out)
    return [future.result() for future in futures]


def submit_probes(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    commits: list[str],
    bisection_id: int,
    keep_checked_out: list[str],
    built: frozenset[str] | None = None,
) -> list[PrefectFuture[ProbeResult]]:
    """Start probing `commits` concurrently; their futures, in the same order. `built`: the
    commits this bisection has built so far, when the caller knows them."""
    if service.bisect.distributed:
        # Each worker fetches its own mirror: `mirror` is this host's.
        futures = [
            probe_on_worker.submit(config, service, commit, bisection_id, keep_checked_out)
            for commit in commits
        ]
    else:
        futures = [
            probe_commit.submit(
                config,
                service,
                mirror,
                commit,
                bisection_id,
                keep_checked_out,
                others_built=None if built is None else bool(built - {commit}),
            )
            for commit in commits
        ]
    return futures
