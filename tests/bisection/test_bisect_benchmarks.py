"""The bisection benchmark scripts run and print their comparison."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_hints_benchmark_prints_builds_against_git_bisect() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bisect_hints.py"), "--ranges", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "hint right" in completed.stdout
    assert "hint wrong" in completed.stdout
    assert "hinted/git" in completed.stdout


def test_simulated_benchmark_prints_the_flaky_other_test_case() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bisect_simulated.py"), "--ranges", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "flaky other test" in completed.stdout
    assert "test-level, one test binary" in completed.stdout
    assert "one signature per probe (before)" in completed.stdout
