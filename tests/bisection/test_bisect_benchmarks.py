"""The bisection benchmark scripts run and print their comparison."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_flaky_benchmark_parses_its_cases_and_prints_the_simulated_part() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bisect_flaky.py"),
            "--ranges",
            "5",
            "--real-runs",
            "0",
            "--other-test-runs",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "git bisect run" in completed.stdout
    assert "build-monitor bisect" in completed.stdout


@pytest.mark.prefect
@pytest.mark.slow
def test_overhead_benchmark_fits_the_fixed_cost_and_finds_no_timeout_warning(
    prefect_api_url: str, tmp_path: Path
) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "prefect_overhead.py"),
            "--sizes",
            "4",
            "6",
            "--repeats",
            "1",
            "--no-cli",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env={**os.environ, "PREFECT_API_URL": prefect_api_url, "TMPDIR": str(tmp_path)},
    )
    assert "Prefect fixed cost:" in completed.stdout
    assert "worker-thread timeout warnings logged: 0" in completed.stdout, completed.stdout
