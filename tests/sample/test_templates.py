"""The sample's sources come from templates/ files and generate the same repositories as the
Python strings they replaced."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

import build_monitor
from build_monitor.sample.service import create_sample_service
from build_monitor.sample.sources import render_template

ROOT = Path(__file__).parents[2]

# Head commit of each generated history when the templates were still strings in service.py,
# plus `--no-fail-fast` in the three Dockerfiles (issue 10).
# A commit's sha covers its tree and every ancestor, so an equal head means every file of every
# commit is byte-identical.
HEADS_BEFORE_THE_MOVE: dict[str, tuple[dict[str, Any], str]] = {
    "compile_error": ({}, "06a33a73adf7ba49ebb338877d12213dd72dd354"),
    "good": ({"good_commits": 2}, "8eaee31b563cc2eb423b112cd2b9aac586e00864"),
    "test_failure": ({"commits_after_break": 2}, "0663bef99f82d0fc34fb2240533f48ea9cd52b13"),
    "health_failure": ({}, "8daaa7411e22a6578e1a8976f8719a3506073892"),
    "untestable_window": ({"untestable_span": 3}, "6ca1d1372f696f197b6a511b42ac1002504fac12"),
    "flaky_break": ({"flake_rate": 0.3}, "07f9ff96accdbe049d3d25a34d8ff6a3c0d65b85"),
}
VARIANT_HEADS_BEFORE_THE_MOVE: dict[str, tuple[dict[str, Any], str]] = {
    "ballast": (
        {"scenario": "compile_error", "ballast_functions": 5},
        "0ceac6792d34254582f76ebdc27bb4e604c1327a",
    ),
    "dependency crate": (
        {"scenario": "test_failure", "dependency_functions": 4, "ballast_functions": 2},
        "c6297680fb5bbc4227509acb9fe00d8d4a945b96",
    ),
    "cache mounts": (
        {"scenario": "health_failure", "cache_mounts": True, "name": "cached_svc"},
        "bf8b1938f20253790bf99fb2ab89a4e243c6f0e2",
    ),
}


def head(path: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize("scenario", sorted(HEADS_BEFORE_THE_MOVE))
def test_every_scenario_generates_the_same_history_as_before(scenario: str, tmp_path: Path) -> None:
    options, expected_head = HEADS_BEFORE_THE_MOVE[scenario]

    repo = create_sample_service(tmp_path / "repo", scenario=scenario, **options)  # type: ignore[arg-type]

    assert head(repo.path) == repo.commits[-1] == expected_head


@pytest.mark.parametrize("variant", sorted(VARIANT_HEADS_BEFORE_THE_MOVE))
def test_build_variants_generate_the_same_history_as_before(variant: str, tmp_path: Path) -> None:
    options, expected_head = VARIANT_HEADS_BEFORE_THE_MOVE[variant]

    repo = create_sample_service(tmp_path / "repo", **options)

    assert head(repo.path) == expected_head


def test_the_package_data_ships_every_template() -> None:
    """setuptools globs `package-data` patterns in the package's directory, as done here."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["build_monitor"]
    package = Path(build_monitor.__file__).parent
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    templates = {path for path in (package / "sample" / "templates").iterdir() if path.is_file()}

    assert templates
    assert templates <= shipped, sorted(path.name for path in templates - shipped)


def test_a_template_value_that_is_missing_is_an_error() -> None:
    with pytest.raises(KeyError, match="BINARY"):
        render_template("Dockerfile")
