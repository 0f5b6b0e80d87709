"""The bisect-probe flow (what a worker runs for one probe of a distributed bisection): it
builds once, and a retried run of the same probe returns the stored result without building."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from build_monitor.bisection import ProbeOutcome
from build_monitor.bisection.probe_request import ProbeRequest
from build_monitor.config import load_config
from build_monitor.history import bisections, probe_claims
from build_monitor.history.db import session_scope
from build_monitor.history.models import BisectProbe, Build
from flows.probe import bisect_probe
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

pytestmark = pytest.mark.prefect


def test_a_retried_probe_returns_the_stored_result_without_building_again(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("test_failure", good_commits=2)
    commands = {"build_command": "true", "test_command": "grep -q 'input [*] 2 + 1' src/main.rs"}
    path = write_config(
        tmp_path, service_table(repo, name="probe-h7", health=False, local=commands)
    )
    config = load_config(path)
    with session_scope(config.database_url) as session:
        bisection = bisections.start_bisection(
            session=session,
            service="probe-h7",
            good=repo.commits[0],
            bad=repo.commits[-1],
            trigger="test",
            flow_run_id=None,
        )
        assert bisection.id is not None
        probe_id = probe_claims.request_probe(
            session=session, bisection_id=bisection.id, commit=repo.commits[0]
        )
    request = ProbeRequest(
        service="probe-h7",
        config_path=str(path),
        bisection_id=bisection.id,
        probe_id=probe_id,
        commit=repo.commits[0],
    )

    first = bisect_probe(request)
    again = bisect_probe(request)

    # The good commit lacks the off-by-one: grep finds nothing, so this "test" fails there.
    assert first.outcome is ProbeOutcome.FAILED
    assert again == first
    with session_scope(config.database_url) as session:
        builds = session.exec(select(Build)).all()
        recorded = session.exec(select(BisectProbe)).all()
        claim = probe_claims.read_probe(session=session, probe_id=probe_id)
    assert [b.commit for b in builds] == [repo.commits[0]]
    assert [(p.commit, p.outcome) for p in recorded] == [(repo.commits[0], "failed")]
    assert (claim.status, claim.attempts) == ("done", 1)
