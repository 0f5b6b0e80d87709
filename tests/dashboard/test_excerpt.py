"""The culprit report's log excerpt starts at the failure, without Docker's step lines."""

from __future__ import annotations

from pathlib import Path

from build_monitor.dashboard.excerpt import failure_excerpt

DATA = Path(__file__).parent.parent / "data"


def test_a_failing_test_excerpt_starts_at_its_output() -> None:
    excerpt = failure_excerpt((DATA / "docker_build_test_failure.log").read_text())
    assert excerpt is not None
    assert excerpt.splitlines()[0] == "---- tests::predict_doubles_input stdout ----"
    assert "assertion `left == right` failed" in excerpt
    assert "Step 1/10" not in excerpt and " ---> " not in excerpt
    assert "\x1b[" not in excerpt and "[91m" not in excerpt


def test_a_compile_error_excerpt_starts_at_the_error() -> None:
    excerpt = failure_excerpt((DATA / "docker_build_e0308.log").read_text())
    assert excerpt is not None
    assert excerpt.startswith("error[E0308]: mismatched types")
    assert "Removing intermediate container" not in excerpt
    assert "returned a non-zero code" not in excerpt


def test_a_health_failure_starts_at_the_health_status() -> None:
    log = (
        "Step 1/3 : FROM x\n ---> abc\nlistening on 0.0.0.0:8000\nhealth: GET /health returned 500"
    )
    assert failure_excerpt(log) == "health: GET /health returned 500"


def test_without_a_failure_line_the_cleaned_log_is_kept() -> None:
    assert (
        failure_excerpt("Step 1/2 : FROM x\nsomething odd happened\n") == "something odd happened"
    )
    assert failure_excerpt(None) is None
