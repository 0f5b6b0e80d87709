"""Suspects weighted by what each commit touched: the files a failure names, and a prior over
the candidate commits that rises where a commit's diff touches them.

The hinted prior is mixed with the uniform one (50/50 by default), so a right hint saves builds
and a wrong one costs at most about one: the uniform half still holds every commit. The search
(`policy.choose_probes`) then prefers probes that can certify a hinted commit, at it or at its
parent, over a slightly better split between two of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from build_monitor.bisection.libtest import TestId, TestLog, TestOutcome
from build_monitor.bisection.target import Target
from build_monitor.errors import InvalidInputError

HINT_MIX = 0.5
# A commit that touches the crate holding a named file, but not the file, counts this much.
CRATE_WEIGHT = 0.25
_INLINE_TEST_MODULES = {"tests", "test"}


def files_of_test(test: TestId) -> list[str]:
    """The source files a test's module path points at: ``tests::x`` in ``unittests src/lib.rs``
    is in ``src/lib.rs``; ``net::tests::x`` in ``src/net.rs`` or ``src/net/mod.rs``; a test of
    ``tests/api.rs`` is in that file; a doc test ``src/lib.rs - f (line 3)`` in ``src/lib.rs``."""
    binary = test.binary
    if binary.startswith("doctests "):
        head = test.name.split(" - ", 1)[0].strip()
        return [head] if head.endswith(".rs") else []
    root = binary.removeprefix("unittests ").strip()
    if not root.endswith(".rs"):
        return []
    if not binary.startswith("unittests "):
        return [root]
    modules = test.name.split("::")[:-1]
    while modules and modules[-1] in _INLINE_TEST_MODULES:
        modules.pop()
    if not modules:
        return [root]
    directory = root.rsplit("/", 1)[0] if "/" in root else ""
    stem = "/".join(filter(None, [directory, *modules]))
    return [f"{stem}.rs", f"{stem}/mod.rs"]


def _in_crate(path: str, root: str | None) -> str:
    if not root or path.startswith(root.rstrip("/") + "/"):
        return path
    return f"{root.rstrip('/')}/{path}"


def crate_roots(crate_directories: Mapping[str, str]) -> tuple[str, ...]:
    """The packages' directories other than the repository root (`crates/net`)."""
    return tuple(sorted(set(crate_directories.values()) - {""}))


def failure_hints(
    log: TestLog,
    target: Target | None = None,
    crate_directories: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Files the failure names: the target's compile errors, the target tests' panic locations
    and the files their module paths map to (all failures when there is no target).

    A test binary's paths are relative to its package (`src/lib.rs`); with
    ``crate_directories`` (rustc crate name -> package directory) they are made relative to the
    repository (`crates/net/src/lib.rs`), so a workspace's other `src/lib.rs` are not named."""
    files: list[str] = []
    keys = set(target.keys) if target else None
    directories = crate_directories or {}
    for error in log.compile_errors:
        if error.file and (keys is None or error.label in keys):
            files.append(error.file)
    for run in log.binaries:
        panics = dict(run.panics)
        root = directories.get(run.crate) if run.crate else None
        for name, outcome in run.results:
            test = TestId(run.binary, name)
            if outcome is not TestOutcome.FAILED or (keys is not None and test.label not in keys):
                continue
            where = panics.get(name)
            if where:
                files.append(where.split(":", 1)[0])
            files.extend(_in_crate(path, root) for path in files_of_test(test))
    return tuple(dict.fromkeys(files))


@dataclass(frozen=True)
class PriorHint:
    """``weights[i]`` is the prior of suspect ``i + 1`` (the commits after the good one, oldest
    first; they sum to 1); ``share`` is the prior mass on commits touching ``files``; ``crates``
    the crates holding them whose other commits got :data:`CRATE_WEIGHT`."""

    files: tuple[str, ...]
    weights: tuple[float, ...]
    share: float
    crates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``prior_hint`` in ``bisect --json`` (``crates`` only when some were weighted);
        ``weights`` only go into the snapshot."""
        shown: dict[str, Any] = {"files": list(self.files), "share": round(self.share, 6)}
        if self.crates:
            shown["crates"] = list(self.crates)
        return shown

    def snapshot(self) -> dict[str, Any]:
        return {**self.to_dict(), "share": self.share, "weights": list(self.weights)}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> PriorHint:
        try:
            return cls(
                tuple(data["files"]),
                tuple(map(float, data["weights"])),
                float(data["share"]),
                tuple(data.get("crates", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid prior hint {data!r}: {exc}") from None


def _names(path: str, hint: str) -> bool:
    return path == hint or path.endswith("/" + hint)


def _crate_of(path: str, crate_roots: Sequence[str]) -> str | None:
    inside = [root for root in crate_roots if root and path.startswith(root.rstrip("/") + "/")]
    return max(inside, key=len) if inside else None


def hint_prior(
    files: Iterable[str],
    touched: Sequence[Iterable[str]],
    *,
    crate_roots: Iterable[str] = (),
    mix: float = HINT_MIX,
) -> PriorHint | None:
    """The prior over suspects from ``touched`` (each suspect commit's changed paths, oldest
    first): weight 1 for touching a named file, :data:`CRATE_WEIGHT` for touching only its crate
    (the deepest ``crate_roots`` directory holding it, never the repository root), mixed
    ``mix`` : ``1 - mix`` with uniform. ``None`` when no commit touches a named file or its
    crate (the search stays uniform)."""
    hints = tuple(dict.fromkeys(files))
    if not hints or not touched or not 0.0 <= mix < 1.0:
        return None
    roots = tuple(crate_roots)
    paths = [tuple(commit) for commit in touched]
    # A named path that is repository-relative (a panic location, a compile error) gives its
    # crate even when no candidate commit touched the file itself.
    named = [path for commit in paths for path in commit if any(_names(path, h) for h in hints)]
    hinted_crates = {
        crate for path in (*hints, *named) if (crate := _crate_of(path, roots)) is not None
    }
    raw = []
    direct = []
    weighted_crates: set[str] = set()
    for commit in paths:
        names_file = any(_names(path, hint) for path in commit for hint in hints)
        in_crates = hinted_crates & {_crate_of(path, roots) for path in commit}
        direct.append(names_file)
        if not names_file:
            weighted_crates |= in_crates
        raw.append(1.0 if names_file else CRATE_WEIGHT if in_crates else 0.0)
    total = sum(raw)
    if total == 0:
        return None
    uniform = mix / len(paths)
    weights = tuple(uniform + (1.0 - mix) * weight / total for weight in raw)
    share = sum(w for w, is_direct in zip(weights, direct, strict=True) if is_direct)
    return PriorHint(
        files=hints, weights=weights, share=share, crates=tuple(sorted(weighted_crates))
    )
