"""A failure's log excerpt as the culprit report shows it: starting at the failure, without the
build tool's step lines."""

from __future__ import annotations

import re

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\[\d+(?:;\d+)*m")
# Lines a build tool prints about itself: Docker's legacy builder, BuildKit, cargo's progress.
_TOOL_NOISE = re.compile(
    r"^(Step \d+/\d+ :|\s*---> |Removing intermediate container|Successfully (built|tagged)"
    r"|#\d+ |The command '.*' returned a non-zero code"
    r"|\s*(Compiling|Finished|Running|Downloading|Downloaded|Updating|Locking|Fresh) )"
)
# Where a failure starts, most telling first: a compiler error, a failing test's output,
# a panic, a health check's verdict, any other error line.
_FAILURE_STARTS = (
    re.compile(r"^error\[E\d+\]"),
    re.compile(r"^---- \S+ stdout ----"),
    re.compile(r"panicked at"),
    re.compile(r"^health: "),
    re.compile(r"^error(:|\[)"),
)


def failure_excerpt(log: str | None) -> str | None:
    """`log` from the line where the failure starts, with the build tool's step lines removed;
    the cleaned log when no failure line is found."""
    if log is None:
        return None
    lines = [
        line.rstrip()
        for line in _ANSI_ESCAPE.sub("", log).replace("\r\n", "\n").split("\n")
        if not _TOOL_NOISE.match(line)
    ]
    start = _failure_start(lines)
    return "\n".join(lines[start:]).strip("\n")


def _failure_start(lines: list[str]) -> int:
    for pattern in _FAILURE_STARTS:
        for index, line in enumerate(lines):
            if pattern.search(line.strip()):
                return index
    return 0
