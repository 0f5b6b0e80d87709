"""`touched_files`: the paths each commit of a range changed, from one git call."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from build_monitor.errors import GitError
from build_monitor.git.repo import touched_files


def _commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for relative, text in files.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=h1", "-c", "user.email=h1@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_every_commit_of_the_range_lists_the_paths_it_changed(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    base = _commit(tmp_path, "base", {"src/main.rs": "fn main() {}\n"})
    first = _commit(tmp_path, "net", {"src/net.rs": "1\n", "README.md": "x\n"})
    empty = _commit(tmp_path, "nothing", {})
    last = _commit(tmp_path, "main", {"src/main.rs": "fn main() { }\n"})

    touched = touched_files(tmp_path, since=base, until=last)

    assert touched == {
        first: ("README.md", "src/net.rs"),
        empty: (),
        last: ("src/main.rs",),
    }
    with pytest.raises(GitError):
        touched_files(tmp_path, since=base, until="no-such-ref")
