"""Generated sample Rust service repositories with a known breakage (demo, tests, benchmarks).

The service is dependency-free (std only) so it builds offline, in Docker too. Histories are
written with `git fast-import` at fixed authors and dates, so hundreds of commits take a second
and the same arguments give the same shas.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from build_monitor.builders.signatures import health_signature
from build_monitor.errors import GitError, InvalidInputError
from build_monitor.sample.sources import (
    BROKEN_HEALTH_STATUS,
    HEALTHY_STATUS,
    SampleSource,
    service_files,
)

Scenario = Literal[
    "good", "compile_error", "test_failure", "health_failure", "untestable_window", "flaky_break"
]
SCENARIOS: tuple[str, ...] = get_args(Scenario)

BRANCH = "main"
FIRST_COMMIT_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
SECONDS_BETWEEN_COMMITS = 600
MAX_COMMITS = 5000

AUTHORS: tuple[tuple[str, str], ...] = (
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Linus Pauling", "linus@example.com"),
    ("Barbara Liskov", "barbara@example.com"),
)

COMPILE_ERROR_SIGNATURE = "error[E0308]: mismatched types (src/main.rs)"
WINDOW_ERROR_SIGNATURE = (
    "error[E0425]: cannot find value `REASON_PHRASES` in this scope (src/main.rs)"
)
TEST_FAILURE_SIGNATURE = "test failed: tests::predict_doubles_input"
FLAKY_TEST_SIGNATURE = "test failed: tests::warm_cache_hits"
HEALTH_FAILURE_SIGNATURE = health_signature(
    path="/health", status=BROKEN_HEALTH_STATUS, expected=HEALTHY_STATUS
)

_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class SampleRepo:
    """A generated repository and what a correct monitor should conclude about it."""

    path: Path
    branch: str
    commits: list[str]
    """Full shas, oldest first."""
    good: str | None
    """Last good commit before the break (before the untestable window, if any); for "good" the
    head."""
    culprit: str | None
    """The commit that introduced the target breakage (None for "good")."""
    binary: str
    expected_signature: str | None
    untestable: list[str] = field(default_factory=list)
    """Commits that fail to build for an unrelated reason (the "untestable_window" scenario)."""
    untestable_signature: str | None = None


def create_sample_service(
    path: Path,
    *,
    scenario: Scenario = "compile_error",
    good_commits: int = 3,
    commits_after_break: int = 1,
    name: str = "sample-svc",
    flake_rate: float = 0.2,
    untestable_span: int = 2,
    ballast_functions: int = 0,
    dependency_functions: int = 0,
    cache_mounts: bool = False,
) -> SampleRepo:
    """Create a git repository at `path` (which must not exist or be empty) for `scenario`.

    History: `good_commits` good commits (the first adds the service), then for a breaking
    scenario the culprit and `commits_after_break` more commits that stay broken. For
    "untestable_window" the good commits are followed by `untestable_span` commits that do not
    compile for an unrelated reason, a commit fixing that, and then the culprit (a failing test).
    """
    _validate(scenario, good_commits, commits_after_break, name, flake_rate, untestable_span)
    _prepare_empty_directory(path)

    flake = round(flake_rate * 1_000_000) if scenario == "flaky_break" else None
    sources: list[tuple[str, SampleSource]] = []
    revision = 0

    def append(message: str, **changes: object) -> None:
        nonlocal revision
        revision += 1
        base = (
            sources[-1][1]
            if sources
            else SampleSource(
                revision=0,
                flake_per_million=flake,
                ballast_functions=ballast_functions,
                dependency_functions=dependency_functions,
                cache_mounts=cache_mounts,
            )
        )
        sources.append((message, replace(base, revision=revision, **changes)))  # type: ignore[arg-type]

    append(f"Add the {name} service")
    for index in range(1, good_commits):
        append(f"Bump revision to {index + 1}")
    window: range = range(0)
    if scenario == "untestable_window":
        window = range(len(sources), len(sources) + untestable_span)
        append("Describe HTTP statuses with a reason table", reason_phrase_missing=True)
        for step in range(1, untestable_span):
            append(f"Tidy status handling ({step})")
        append("Restore the reason phrases", reason_phrase_missing=False)
    culprit_index = len(sources) if scenario != "good" else None
    match scenario:
        case "compile_error":
            append("Accept ports given as text", port_type_error=True)
        case "test_failure" | "untestable_window":
            append("Calibrate predictions", predict_off_by_one=True)
        case "health_failure":
            append("Report degraded health", health_status=BROKEN_HEALTH_STATUS)
        case "flaky_break":
            append("Warm the cache lazily", flake_per_million=1_000_000)
        case "good":
            pass
    if culprit_index is not None:
        for step in range(commits_after_break):
            append(f"Follow-up change {step + 1}")

    shas = _write_history(path, name, sources)
    good_index = (window.start if window else culprit_index or len(sources)) - 1
    return SampleRepo(
        path=path,
        branch=BRANCH,
        commits=shas,
        good=shas[good_index] if good_index >= 0 else None,
        culprit=shas[culprit_index] if culprit_index is not None else None,
        binary=name,
        expected_signature=_EXPECTED_SIGNATURES[scenario],
        untestable=[shas[index] for index in window],
        untestable_signature=WINDOW_ERROR_SIGNATURE if window else None,
    )


def add_commit(
    repo_path: Path,
    message: str,
    files: dict[str, str],
    author: tuple[str, str] = AUTHORS[0],
) -> str:
    """Write `files` (relative path -> text) into the repository and commit them; returns the sha.

    The commit date is ten minutes after the current head's, so shas stay reproducible.
    """
    if not message.strip():
        raise InvalidInputError("a commit message must not be empty")
    root = repo_path.resolve()
    for relative in files:
        target = (root / relative).resolve()
        if relative.startswith("/") or not target.is_relative_to(root) or target == root:
            raise InvalidInputError(f"file path {relative!r} is not inside {root}")
    head_epoch = int(_git(root, "log", "-1", "--format=%ct", "HEAD").strip() or FIRST_COMMIT_EPOCH)
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _git(root, "add", "--", *files)
    date = f"{head_epoch + SECONDS_BETWEEN_COMMITS} +0000"
    name, email = author
    _git(
        root,
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        message,
        env={
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": date,
        },
    )
    return _git(root, "rev-parse", "HEAD").strip()


def _write_history(path: Path, name: str, sources: list[tuple[str, SampleSource]]) -> list[str]:
    _git(path, "init", "--quiet", f"--initial-branch={BRANCH}")
    stream: list[bytes] = []
    previous: dict[str, str] = {}
    for index, (message, source) in enumerate(sources):
        files = service_files(name, source)
        author_name, author_email = AUTHORS[index % len(AUTHORS)]
        when = f"{FIRST_COMMIT_EPOCH + index * SECONDS_BETWEEN_COMMITS} +0000"
        identity = f"{author_name} <{author_email}> {when}"
        encoded_message = (message + "\n").encode()
        stream.append(
            f"commit refs/heads/{BRANCH}\nmark :{index + 1}\n"
            f"author {identity}\ncommitter {identity}\n"
            f"data {len(encoded_message)}\n".encode()
            + encoded_message
        )
        if index > 0:
            stream.append(f"from :{index}\n".encode())
        for relative, text in files.items():
            if previous.get(relative) == text:
                continue
            content = text.encode()
            stream.append(f"M 100644 inline {relative}\ndata {len(content)}\n".encode())
            stream.append(content + b"\n")
        stream.append(b"\n")
        previous = files
    marks = path / ".git" / "bm-marks"
    _git(path, "fast-import", "--quiet", f"--export-marks={marks}", stdin=b"".join(stream))
    shas_by_mark = dict(
        line.split(" ", 1) for line in marks.read_text(encoding="ascii").splitlines()
    )
    marks.unlink()
    _git(path, "reset", "--quiet", "--hard", BRANCH)
    return [shas_by_mark[f":{index + 1}"].strip() for index in range(len(sources))]


def _git(
    cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=full_env,
            timeout=120,
            check=False,
        )
    except FileNotFoundError as error:
        raise GitError("git is not installed") from error
    except subprocess.TimeoutExpired as error:
        raise GitError(f"git {args[0]} did not finish within 120s in {cwd}") from error
    if completed.returncode != 0:
        detail = completed.stderr.decode(errors="replace").strip()
        raise GitError(f"git {args[0]} failed in {cwd}: {detail}")
    return completed.stdout.decode(errors="replace")


def _prepare_empty_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInputError(f"{path} already exists and is not an empty directory")
    path.mkdir(parents=True, exist_ok=True)


def _validate(
    scenario: str,
    good_commits: int,
    commits_after_break: int,
    name: str,
    flake_rate: float,
    untestable_span: int,
) -> None:
    if scenario not in SCENARIOS:
        raise InvalidInputError(f"unknown scenario {scenario!r}; choose one of {SCENARIOS}")
    if not 1 <= good_commits <= MAX_COMMITS:
        raise InvalidInputError(f"good_commits must be between 1 and {MAX_COMMITS}")
    if not 0 <= commits_after_break <= MAX_COMMITS:
        raise InvalidInputError(f"commits_after_break must be between 0 and {MAX_COMMITS}")
    if not 1 <= untestable_span <= MAX_COMMITS:
        raise InvalidInputError(f"untestable_span must be between 1 and {MAX_COMMITS}")
    if not 0.0 <= flake_rate < 1.0:
        raise InvalidInputError("flake_rate must be at least 0 and below 1")
    if not _NAME_PATTERN.match(name):
        raise InvalidInputError(
            f"service name {name!r} must be lowercase letters, digits, '-' or '_', "
            "starting with a letter (at most 64 characters)"
        )


_EXPECTED_SIGNATURES: dict[str, str | None] = {
    "good": None,
    "compile_error": COMPILE_ERROR_SIGNATURE,
    "test_failure": TEST_FAILURE_SIGNATURE,
    "health_failure": HEALTH_FAILURE_SIGNATURE,
    "untestable_window": TEST_FAILURE_SIGNATURE,
    "flaky_break": FLAKY_TEST_SIGNATURE,
}
