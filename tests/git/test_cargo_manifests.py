"""`crate_directories`: each crate name at one commit, traced to its package's directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from build_monitor.errors import GitError
from build_monitor.git.cargo_manifests import crate_directories
from tests.git.commits import commit_files


def _package(name: str, extra: str = "") -> str:
    return f'[package]\nname = "{name}"\nversion = "0.1.0"\n{extra}'


def test_each_crate_name_maps_to_its_package_directory(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    before = commit_files(
        tmp_path,
        "workspace",
        {
            "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n',
            "crates/net-io/Cargo.toml": _package("net-io"),
            "crates/net-io/src/lib.rs": "\n",
            "crates/net-io/tests/api.rs": "\n",
            "crates/net-io/src/bin/probe/main.rs": "\n",
            "crates/net-io/Cargo.toml.orig": _package("orig"),
            "docs/NotCargo.toml": _package("not-a-manifest"),
        },
    )
    after = commit_files(
        tmp_path,
        "model",
        {
            "crates/model/Cargo.toml": _package("model", '[lib]\nname = "ml_model"\n'),
            "crates/model/tests/api.rs": "\n",
            "crates/model/tests/net_io.rs": "\n",
            "crates/model/fixtures/tiny/Cargo.toml": _package("tiny"),
            "crates/broken/Cargo.toml": "[package\n",
        },
    )

    assert crate_directories(tmp_path, before) == {
        "api": "crates/net-io",
        "net_io": "crates/net-io",
        "probe": "crates/net-io",
    }
    # `api` is now a test of two packages: it can no longer be placed, and is left out. The
    # library `net_io` keeps its package although another package has a test of that name.
    assert crate_directories(tmp_path, after) == {
        "ml_model": "crates/model",
        "model": "crates/model",
        "net_io": "crates/net-io",
        "probe": "crates/net-io",
        "tiny": "crates/model/fixtures/tiny",
    }


def test_a_single_crate_repository_is_the_root_directory(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    head = commit_files(
        tmp_path, "crate", {"Cargo.toml": _package("svc"), "src/main.rs": "fn main() {}\n"}
    )

    assert crate_directories(tmp_path, head) == {"svc": ""}
    with pytest.raises(GitError):
        crate_directories(tmp_path, "no-such-ref")
