"""The bisect-round subflow: one round of probes of a bisection, recursing into the next."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from build_monitor.bisection.rounds import BisectContext, ProbeResult
from build_monitor.config import load_config
from build_monitor.dashboard.render import Progress, bisection_progress
from build_monitor.prefect_runtime import without_flow_heartbeat
from flows.probes import submit_probes
from tasks.artifacts import update_progress


def _round_name() -> str:
    parameters = flow_run.get_parameters()
    context = BisectContext.model_validate(parameters["context"])
    return context.round_name(int(parameters.get("round_number", 1)))


@flow(name="bisect-round", flow_run_name=_round_name, validate_parameters=True)
def bisect_round(
    context: BisectContext,
    probes: list[ProbeResult],
    round_number: int = 1,
    progress_id: UUID | None = None,
) -> list[ProbeResult]:
    """One round: ask the search which commits to probe, probe them concurrently, then recurse
    into the next round as a subflow until the search is done; the round whose probes settle
    it returns without starting another. Each round moves the progress artifact `progress_id`
    to where the previous round left it, while its own probes build."""
    search = context.search(probes)
    if search.done:
        return _settled(context, probes, round_number - 1, progress_id)
    config = load_config(Path(context.config_path) if context.config_path else None)
    service = config.service(context.service)
    mirror, keep = Path(context.mirror), search.likely_reruns()
    futures = submit_probes(
        config,
        service,
        mirror,
        list(search.next_probes()),
        context.bisection_id,
        keep,
        context.built_commits(probes),
    )
    if progress_id is not None and round_number > 1:
        update_progress(progress_id, _progress(context, probes, round_number - 1))
    results = [future.result() for future in futures]
    get_run_logger().info(
        "round %d: %s",
        round_number,
        ", ".join(f"{r.commit[:10]} {r.outcome.value}" for r in results),
    )
    probes = probes + results
    if context.search(probes).done:
        return _settled(context, probes, round_number, progress_id)
    # The parent's heartbeat covers nested rounds (see without_flow_heartbeat).
    with without_flow_heartbeat():
        return bisect_round(context, probes, round_number + 1, progress_id)


def _settled(
    context: BisectContext, probes: list[ProbeResult], round_number: int, progress_id: UUID | None
) -> list[ProbeResult]:
    if progress_id is not None:
        update_progress(progress_id, _progress(context, probes, round_number))
    return probes


def _progress(context: BisectContext, probes: list[ProbeResult], round_number: int) -> Progress:
    search = context.search(probes)
    return bisection_progress(
        search.probabilities(),
        round_number=round_number,
        confidence=context.settings.confidence,
        done=search.done,
    )
