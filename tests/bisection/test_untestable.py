"""Untestable windows and commit-specific errors (pure rules)."""

from __future__ import annotations

from build_monitor.bisection.untestable import commit_specific_error, shared_reason, windows


def test_an_error_belongs_to_the_commit_when_it_reproduces_while_others_build() -> None:
    host = "network unavailable: could not resolve host"
    assert commit_specific_error([host, host], others_built=True) == host
    assert commit_specific_error([host], others_built=True) is None
    assert commit_specific_error([host, host], others_built=False) is None
    assert commit_specific_error([host, "disk full: no space left on device"], True) is None


def test_windows_are_runs_of_untestable_probes_with_their_shared_reason() -> None:
    probed = [(1, None), (3, "dep"), (4, "dep"), (9, "E0432"), (12, None), (20, "dep")]
    assert windows(probed) == [(3, 9, ["dep", "dep", "E0432"]), (20, 20, ["dep"])]
    assert shared_reason(["dep", "dep", "E0432"]) == "dep; also E0432"
    assert shared_reason([]) == "unknown failure"
