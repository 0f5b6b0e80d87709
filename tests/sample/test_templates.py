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

# Head commit of each generated history when the templates were still strings in service.py.
# A commit's sha covers its tree and every ancestor, so an equal head means every file of every
# commit is byte-identical.
HEADS_BEFORE_THE_MOVE: dict[str, tuple[dict[str, Any], str]] = {
    "compile_error": ({}, "b926df5232a4242fb2a967d88499d82325af4313"),
    "good": ({"good_commits": 2}, "baae8289a397747ed18a2b897401cd4899de801a"),
    "test_failure": ({"commits_after_break": 2}, "400de5098ebd89e99ed988b43adf74d1042c892c"),
    "health_failure": ({}, "18f3783c445968d53c0c2282a66b7ee2b05de0cd"),
    "untestable_window": ({"untestable_span": 3}, "41b50023c65a50a6d5d3efec9319e089c9be9004"),
    "flaky_break": ({"flake_rate": 0.3}, "9b04b5047e488e3da9bff66c94cdda6288eef0de"),
}
VARIANT_HEADS_BEFORE_THE_MOVE: dict[str, tuple[dict[str, Any], str]] = {
    "ballast": (
        {"scenario": "compile_error", "ballast_functions": 5},
        "502ed6376fce9ec78b0238a76d27adefec755a41",
    ),
    "dependency crate": (
        {"scenario": "test_failure", "dependency_functions": 4, "ballast_functions": 2},
        "ca706c51ef6b8797c5ff1a579e26924c1c73d8fe",
    ),
    "cache mounts": (
        {"scenario": "health_failure", "cache_mounts": True, "name": "cached_svc"},
        "e8b75253de527d3df98df91224233388f55bb2b0",
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
