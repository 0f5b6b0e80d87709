"""Committing files to a real git repository in a test."""

from __future__ import annotations

import subprocess
from pathlib import Path


def commit_files(repo: Path, message: str, files: dict[str, str]) -> str:
    for relative, text in files.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=h1", "-c", "user.email=h1@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
