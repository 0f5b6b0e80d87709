"""Validation of names and refs that come from outside (config, CLI, webhooks)."""

from __future__ import annotations

import re

from build_monitor.errors import InvalidInputError

SERVICE_NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
FULL_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")
# git check-ref-format rules, restricted further: no leading '-', so a ref is never an option.
_REF_CHARS = re.compile(r"^[A-Za-z0-9._/@{}~^+-]+$")


def validate_service_name(name: str) -> str:
    if not SERVICE_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"invalid service name {name!r}: use lowercase letters, digits and '-' "
            "(1-63 characters, not starting or ending with '-')"
        )
    return name


def validate_ref(ref: str) -> str:
    """Accept a branch, tag, sha or rev expression such as `main~3`; reject anything shell- or
    option-like."""
    problems = (
        not ref
        or len(ref) > 255
        or ref.startswith(("-", "/"))
        or ref.endswith((".", "/", ".lock"))
        or ".." in ref
        or "//" in ref
        or "@{" in ref.replace("@{u}", "")
        or not _REF_CHARS.fullmatch(ref)
    )
    if problems:
        raise InvalidInputError(f"invalid git ref {ref!r}")
    return ref


def validate_branch(branch: str) -> str:
    validate_ref(branch)
    if any(c in branch for c in "~^{}@"):
        raise InvalidInputError(f"invalid branch name {branch!r}")
    return branch
