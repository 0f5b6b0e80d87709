"""Deciding whether two failures are the same breakage."""

from __future__ import annotations

import re
from collections.abc import Callable

SignatureMatcher = Callable[[str | None, str | None], bool]

_LINE_COLUMN = re.compile(r":\d+(?::\d+)?\b")
_WHITESPACE = re.compile(r"\s+")


def normalise_signature(signature: str) -> str:
    """Collapse whitespace and replace ``:line`` / ``:line:col`` suffixes by ``:N``, so a failure
    whose code merely moved a few lines still has the same signature."""
    return _WHITESPACE.sub(" ", _LINE_COLUMN.sub(":N", signature)).strip()


def signatures_match(target: str | None, candidate: str | None) -> bool:
    """Default matcher: equal after :func:`normalise_signature`.

    A failure without a signature only matches a target without one: an unknown failure is not
    assumed to be the breakage being hunted.
    """
    if target is None or candidate is None:
        return target is None and candidate is None
    return normalise_signature(target) == normalise_signature(candidate)
