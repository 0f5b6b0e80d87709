"""`crate_roots`: the directories holding a Cargo.toml at one commit, from one git call."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from build_monitor.errors import GitError
from build_monitor.git.repo import crate_roots
from tests.git.commits import commit_files

MANIFEST = '[package]\nname = "x"\nversion = "0.1.0"\n'


def test_member_crates_at_each_commit_without_the_workspace_root(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    before = commit_files(
        tmp_path,
        "workspace",
        {
            "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n',
            "crates/net/Cargo.toml": MANIFEST,
            "crates/net/src/lib.rs": "\n",
            "crates/net/Cargo.toml.orig": MANIFEST,
            "docs/NotCargo.toml": "\n",
        },
    )
    after = commit_files(
        tmp_path,
        "model",
        {
            "crates/model/Cargo.toml": MANIFEST,
            "crates/model/fixtures/tiny/Cargo.toml": MANIFEST,
        },
    )

    assert crate_roots(tmp_path, before) == ("crates/net",)
    assert crate_roots(tmp_path, after) == (
        "crates/model",
        "crates/model/fixtures/tiny",
        "crates/net",
    )


def test_a_single_crate_repository_has_no_crate_roots(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    head = commit_files(
        tmp_path, "crate", {"Cargo.toml": MANIFEST, "src/main.rs": "fn main() {}\n"}
    )

    assert crate_roots(tmp_path, head) == ()
    with pytest.raises(GitError):
        crate_roots(tmp_path, "no-such-ref")
