"""Failure signatures: read from cargo/rustc output (raw or inside a `docker build` log), and
compared (`same_failure`, the one matcher).

A signature names *what* broke (the first compiler error and its file, or the first failing
test) without line numbers, so the same break in shifted code still matches. Failures caused by
the machine (disk full, OOM, Docker down, no network) are reported as infrastructure instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Stage = Literal["build", "test"]

MAX_EXCERPT_LINES = 60
MAX_EXCERPT_LINE_CHARS = 400
CONTEXT_BEFORE_ERROR = 4
LOCATION_LOOKAHEAD_LINES = 6

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\[\d+(?:;\d+)*m")
_RUSTC_CODED_ERROR = re.compile(r"^error\[(E\d{4})\]: (.+)$")
_RUSTC_ERROR = re.compile(r"^error: (.+)$")
_LOCATION = re.compile(r"^-->\s*(\S.*?):\d+(?::\d+)?\s*$")
_NOT_A_COMPILE_ERROR = re.compile(
    r"^(could not compile|aborting due to|test failed, to rerun|\d+ targets? failed)"
)
_TEST_RUN_FAILED = re.compile(r"^error: (test failed, to rerun|\d+ targets? failed)")
_FAILED_TEST_RESULT = re.compile(r"^test (.+?) \.\.\. FAILED")
_FAILED_TEST_OUTPUT = re.compile(r"^---- (.+?) stdout ----")
_SIGNAL = re.compile(r"signal: (\d+), (SIG[A-Z]+)")
_LINE_COLUMN = re.compile(r"(?<=[\w)\]])(?::\d+)+(?=$|[\s),;:\]])")
_WHITESPACE = re.compile(r"\s+")
_ERRORISH = re.compile(r"(^error\b|\berror\[E\d{4}\]|\.\.\. FAILED|^---- .+ stdout ----|panicked)")

_INFRASTRUCTURE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"no space left on device", re.I), "disk full: no space left on device"),
    (re.compile(r"disk quota exceeded", re.I), "disk full: quota exceeded"),
    (re.compile(r"read-only file system", re.I), "read-only file system"),
    (re.compile(r"input/output error", re.I), "disk I/O error"),
    (re.compile(r"returned a non-zero code: 137\b"), "out of memory: build killed (exit 137)"),
    (re.compile(r"signal: 9, SIGKILL"), "out of memory: process killed by SIGKILL"),
    (re.compile(r"^Killed\s*$|^/bin/sh: \d+: .*Killed"), "out of memory: process killed"),
    (
        re.compile(r"memory allocation of \d+ bytes failed|cannot allocate memory", re.I),
        "out of memory: allocation failed",
    ),
    (
        re.compile(r"cannot connect to the docker daemon|is the docker daemon running", re.I),
        "docker daemon unreachable",
    ),
    (re.compile(r"error during connect", re.I), "docker daemon unreachable"),
    (re.compile(r"pull access denied", re.I), "base image unavailable: pull access denied"),
    (
        re.compile(r"manifest unknown|manifest for \S+ not found", re.I),
        "base image unavailable: manifest unknown",
    ),
    (
        re.compile(r"repository does not exist|no such image", re.I),
        "base image unavailable: image not found",
    ),
    (re.compile(r"toomanyrequests", re.I), "registry rate limit reached"),
    (
        re.compile(
            r"could not resolve host|couldn't resolve host|temporary failure in name "
            r"resolution|name or service not known",
            re.I,
        ),
        "network unavailable: could not resolve host",
    ),
    (
        re.compile(
            r"spurious network error|failed to download|network is unreachable|"
            r"failed to update registry|failed to fetch",
            re.I,
        ),
        "network unavailable: download failed",
    ),
    (
        re.compile(r"failed to register layer|error creating overlay mount|devmapper", re.I),
        "docker storage driver failure",
    ),
)

_NETWORK_REASON = "network unavailable"
# Cargo could not load the source a dependency of the package names (a git repository, a
# registry): when the network failed there, the reason names the dependency and its source,
# which may be the machine's fault or only the commit's (a source only its Cargo.toml names).
_DEPENDENCY_SOURCE = re.compile(r"failed to load source for dependency `([^`]+)`")
_SOURCE_LOCATION = re.compile(
    r"^(?:Updating git repository|unable to update|Unable to update registry)\s+`?([^`\s]+)`?"
)
_NETWORK_FAILURE = re.compile(
    r"spurious network error|could not resolve host|couldn't resolve host|failed to resolve "
    r"address|temporary failure in name resolution|name or service not known|connection "
    r"refused|failed to connect to|network is unreachable|timed out",
    re.I,
)


@dataclass(frozen=True)
class FailureAnalysis:
    """What a failed build or test run says about the commit (or about the machine)."""

    stage: Stage | None
    signature: str | None
    excerpt: str
    """At most ~60 lines around the first error (the tail when no error was recognised)."""
    infrastructure: str | None
    """Why the failure is the machine's fault rather than the commit's; None otherwise."""


def analyze_build_output(
    text: str,
    *,
    exit_code: int | None = None,
    assumed_stage: Stage | None = None,
) -> FailureAnalysis:
    """Classify the output of `cargo build`/`cargo test` (raw or in a `docker build` log).

    `exit_code` 0 means success whatever the text says. When the text shows a failure but no
    recognisable error, the stage is `assumed_stage` and the signature None.
    """
    if exit_code == 0:
        return FailureAnalysis(stage=None, signature=None, excerpt="", infrastructure=None)
    lines = clean_lines(text)

    infrastructure = _infrastructure_reason(lines, exit_code)
    if infrastructure is not None:
        index, reason = infrastructure
        return FailureAnalysis(
            stage=None,
            signature=reason,
            excerpt=_excerpt(lines, index, MAX_EXCERPT_LINES),
            infrastructure=reason,
        )

    compile_error = _first_compile_error(lines)
    if compile_error is not None:
        index, signature = compile_error
        return FailureAnalysis(
            stage="build",
            signature=signature,
            excerpt=_excerpt(lines, index, MAX_EXCERPT_LINES),
            infrastructure=None,
        )

    test_failure = _first_failed_test(lines)
    if test_failure is not None:
        index, name = test_failure
        return FailureAnalysis(
            stage="test",
            signature=f"test failed: {name}",
            excerpt=_excerpt(lines, index, MAX_EXCERPT_LINES),
            infrastructure=None,
        )

    test_run_failure = _test_run_failure(lines)
    if test_run_failure is not None:
        index, signature = test_run_failure
        return FailureAnalysis(
            stage="test",
            signature=signature,
            excerpt=_excerpt(lines, index, MAX_EXCERPT_LINES),
            infrastructure=None,
        )

    if exit_code is None and not _looks_failed(lines):
        return FailureAnalysis(stage=None, signature=None, excerpt="", infrastructure=None)
    return FailureAnalysis(
        stage=assumed_stage,
        signature=None,
        excerpt=_excerpt(lines, _first_errorish(lines), MAX_EXCERPT_LINES),
        infrastructure=None,
    )


def log_excerpt(text: str, *, max_lines: int = MAX_EXCERPT_LINES) -> str:
    """At most `max_lines` lines: from just before the first error, else the tail."""
    lines = clean_lines(text)
    return _excerpt(lines, _first_errorish(lines), max(1, max_lines))


def health_signature(
    *, path: str, status: int | None, expected: int, reason: str | None = None
) -> str:
    """E.g. `health: GET /health returned 500, expected 200` or `health: no answer within 30s`."""
    if status is None:
        return f"health: {_single_line(reason) or 'no answer'}"
    return f"health: GET {path} returned {status}, expected {expected}"


def normalize_signature(signature: str) -> str:
    """The form in which signatures are compared: no terminal codes, no `:line:column`
    numbers, single spaces."""
    normal = signature
    for _ in range(8):  # removing one code can expose another; stop at a fixed point
        previous = normal
        normal = _WHITESPACE.sub(" ", _LINE_COLUMN.sub("", clean_text(normal))).strip()
        if normal == previous:
            break
    return normal


def same_failure(first: str | None, second: str | None) -> bool:
    """Whether two signatures name the same failure: equal after `normalize_signature`.

    None (a failure nothing could be recognised in) names no failure, so it matches nothing,
    not even another None.
    """
    if first is None or second is None:
        return False
    return normalize_signature(first) == normalize_signature(second)


def clean_text(text: str) -> str:
    """`text` without terminal colour codes or carriage-return progress redraws."""
    return _ANSI_ESCAPE.sub("", text).replace("\r\n", "\n")


def clean_lines(text: str) -> list[str]:
    return [line.rstrip() for line in clean_text(text).splitlines()]


def _infrastructure_reason(lines: Sequence[str], exit_code: int | None) -> tuple[int, str] | None:
    found = _first_infrastructure_line(lines)
    if found is None or found[1].startswith(_NETWORK_REASON):
        found = _dependency_source_unreachable(lines) or found
    if found is None and exit_code == 137:
        return max(0, len(lines) - 1), "out of memory: build killed (exit 137)"
    return found


def _first_infrastructure_line(lines: Sequence[str]) -> tuple[int, str] | None:
    for index, line in enumerate(lines):
        stripped = line.strip()
        for pattern, reason in _INFRASTRUCTURE_PATTERNS:
            if pattern.search(stripped):
                return index, reason
    return None


def _dependency_source_unreachable(lines: Sequence[str]) -> tuple[int, str] | None:
    """`dependency source unreachable: `dep` (http://host/dep.git)` when cargo failed to load
    a dependency's source on a network failure (`connection refused` too, which the generic
    patterns do not take for the network's fault)."""
    stripped = [line.strip() for line in lines]
    dependency = next(
        (
            (i, m.group(1))
            for i, line in enumerate(stripped)
            if (m := _DEPENDENCY_SOURCE.search(line))
        ),
        None,
    )
    if dependency is None or not any(_NETWORK_FAILURE.search(line) for line in stripped):
        return None
    index, name = dependency
    source = next((m.group(1) for line in stripped if (m := _SOURCE_LOCATION.match(line))), None)
    return index, f"dependency source unreachable: `{name}`" + (f" ({source})" if source else "")


def _first_compile_error(lines: Sequence[str]) -> tuple[int, str] | None:
    for index, raw_line in enumerate(lines):
        line = raw_line.strip()
        coded = _RUSTC_CODED_ERROR.match(line)
        if coded:
            head = f"error[{coded.group(1)}]: {coded.group(2).strip()}"
        else:
            plain = _RUSTC_ERROR.match(line)
            if plain is None or _NOT_A_COMPILE_ERROR.match(plain.group(1)):
                continue
            head = f"error: {_without_package_path(plain.group(1).strip())}"
        location = _error_location(lines, index)
        return index, f"{head} ({location})" if location else head
    return None


_PACKAGE_PATH = re.compile(r"(\bv\d+\.\d+\.\d+\S*) \((?:/|file://)[^)]*\)")


def _without_package_path(message: str) -> str:
    """`for `svc v0.1.0 (/tmp/worktrees/slot-3)`` -> `for `svc v0.1.0``: the checkout path
    differs between builds of the same commit, the failure does not."""
    return _PACKAGE_PATH.sub(r"\1", message)


def _error_location(lines: Sequence[str], error_index: int) -> str | None:
    for line in lines[error_index + 1 : error_index + 1 + LOCATION_LOOKAHEAD_LINES]:
        stripped = line.strip()
        if stripped.startswith(("error", "warning")):
            return None
        location = _LOCATION.match(stripped)
        if location:
            return location.group(1)
    return None


def _first_failed_test(lines: Sequence[str]) -> tuple[int, str] | None:
    """The failing test with the smallest name (stable under parallel test order)."""
    first_index: int | None = None
    names: set[str] = set()
    for index, raw_line in enumerate(lines):
        line = raw_line.strip()
        match = _FAILED_TEST_OUTPUT.match(line) or _FAILED_TEST_RESULT.match(line)
        if match:
            names.add(match.group(1).strip())
            first_index = index if first_index is None else first_index
    if first_index is None:
        return None
    return first_index, min(names)


def _test_run_failure(lines: Sequence[str]) -> tuple[int, str] | None:
    for index, line in enumerate(lines):
        if _TEST_RUN_FAILED.match(line.strip()):
            for later in lines[index : index + 12]:
                signal = _SIGNAL.search(later)
                if signal:
                    return index, f"test run failed: signal {signal.group(1)} ({signal.group(2)})"
            return index, "test run failed"
    return None


def _looks_failed(lines: Sequence[str]) -> bool:
    return any(
        "returned a non-zero code" in line or _ERRORISH.search(line.strip()) for line in lines
    )


def _first_errorish(lines: Sequence[str]) -> int | None:
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _ERRORISH.search(stripped) or "returned a non-zero code" in stripped:
            return index
    return None


def _excerpt(lines: Sequence[str], anchor: int | None, max_lines: int) -> str:
    if anchor is None:
        start = max(0, len(lines) - max_lines)
    else:
        start = max(0, min(anchor - CONTEXT_BEFORE_ERROR, len(lines) - max_lines))
    chosen = lines[start : start + max_lines]
    return "\n".join(_shorten(line) for line in chosen)


def _shorten(line: str) -> str:
    if len(line) <= MAX_EXCERPT_LINE_CHARS:
        return line
    return line[: MAX_EXCERPT_LINE_CHARS - 1] + "…"


def _single_line(text: str | None) -> str:
    return _WHITESPACE.sub(" ", text or "").strip()
