"""prefect.yaml mirrors the registry: the same deployments and entrypoints, all on the
`build-monitor` pool."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from build_monitor.config import load_config
from deployments.registry import served_deployments
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

PROJECT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_has_every_registry_deployment_on_the_pool(
    sample_repo: SampleRepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = sample_repo("good", good_commits=1)
    config = load_config(write_config(tmp_path, service_table(repo, name="mirrored")))
    monkeypatch.chdir(PROJECT)  # the registry records entrypoints relative to the project
    registry = {
        d.name: d.entrypoint for d in served_deployments(config) if d.name != "monitor-mirrored"
    }
    document = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    declared = {d["name"]: d for d in document["deployments"]}
    assert {name: declared[name]["entrypoint"] for name in registry if name in declared} == registry
    assert set(declared) == set(registry) | {"monitor-all"}
    assert {d["work_pool"]["name"] for d in declared.values()} == {"build-monitor"}
