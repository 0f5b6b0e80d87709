"""`touched_files`: the paths each commit of a range changed, from one git call."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from build_monitor.errors import GitError
from build_monitor.git.repo import touched_files
from tests.git.commits import commit_files


def test_every_commit_of_the_range_lists_the_paths_it_changed(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    base = commit_files(tmp_path, "base", {"src/main.rs": "fn main() {}\n"})
    first = commit_files(tmp_path, "net", {"src/net.rs": "1\n", "README.md": "x\n"})
    empty = commit_files(tmp_path, "nothing", {})
    last = commit_files(tmp_path, "main", {"src/main.rs": "fn main() { }\n"})

    touched = touched_files(tmp_path, since=base, until=last)

    assert touched == {
        first: ("README.md", "src/net.rs"),
        empty: (),
        last: ("src/main.rs",),
    }
    with pytest.raises(GitError):
        touched_files(tmp_path, since=base, until="no-such-ref")
