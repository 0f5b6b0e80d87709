"""The crates of a repository at one commit, read from its `Cargo.toml` files in git (no
checkout): each crate's root directory, and the names rustc gives its targets, which is how a
test binary in cargo's output (`target/debug/deps/net-1a2b…`, `Doc-tests net`) is traced back
to the directory its `src/lib.rs` lives in."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import git

from build_monitor.errors import GitError
from build_monitor.git.repo import open_repo
from build_monitor.validation import validate_ref

MANIFEST = "Cargo.toml"
# Directories cargo scans for targets of their own kind, beside the library and `src/main.rs`.
_AUTO_TARGET_DIRS = ("src/bin", "tests", "examples", "benches")


def rustc_name(name: str) -> str:
    """The crate name rustc uses for a Cargo name: `-` becomes `_`."""
    return name.replace("-", "_")


def _manifest(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _package_names(manifest: Mapping[str, Any]) -> Iterable[str]:
    """The package's name and its library's, which is what its unit and doc tests run as."""
    for section in ("package", "lib"):
        table = manifest.get(section)
        if isinstance(table, Mapping) and isinstance(table.get("name"), str):
            yield table["name"]


def _declared_targets(manifest: Mapping[str, Any]) -> Iterable[str]:
    for kind in ("bin", "test", "example", "bench"):
        declared = manifest.get(kind)
        for target in declared if isinstance(declared, list) else ():
            if isinstance(target, Mapping) and isinstance(target.get("name"), str):
                yield target["name"]


def _discovered_targets(root: str, paths: Iterable[str]) -> Iterable[str]:
    """`tests/api.rs` is the target `api`; `src/bin/tool/main.rs` the target `tool`."""
    for directory in _AUTO_TARGET_DIRS:
        prefix = f"{root}/{directory}/" if root else f"{directory}/"
        for path in paths:
            if not path.startswith(prefix):
                continue
            parts = PurePosixPath(path.removeprefix(prefix)).parts
            if len(parts) == 1:
                yield parts[0].removesuffix(".rs")
            elif len(parts) == 2 and parts[1] == "main.rs":
                yield parts[0]


def crate_directories(repo_path: Path, commit: str) -> dict[str, str]:
    """Every crate name at `commit` (package, library, binaries, tests, examples, benches, as
    rustc spells them) mapped to the directory of the package that holds it, `""` for the
    repository root. A workspace's virtual manifest is not a package. A name two packages share
    maps to neither, since it cannot tell them apart."""
    validate_ref(commit)
    try:
        repo = open_repo(repo_path)
        listing = repo.git.ls_tree("-r", "-z", "--end-of-options", commit)
        entries = [entry.split("\t", 1) for entry in listing.split("\0") if "\t" in entry]
        # Only sources under a target directory can be targets: the per-package scan stays
        # small in a repository of many files.
        target_sources = [
            path
            for _, path in entries
            if path.endswith(".rs") and any(f"/{d}/" in f"/{path}" for d in _AUTO_TARGET_DIRS)
        ]
        manifests = {
            path: repo.odb.stream(bytes.fromhex(info.split()[2])).read().decode("utf-8", "replace")
            for info, path in entries
            if PurePosixPath(path).name == MANIFEST and info.split()[1] == "blob"
        }
    except (git.GitCommandError, ValueError):
        raise GitError(f"cannot read the Cargo manifests of {commit[:12]}") from None
    primary: dict[str, set[str]] = {}
    secondary: dict[str, set[str]] = {}
    for manifest_path, text in manifests.items():
        manifest = _manifest(text)
        if manifest is None or not isinstance(manifest.get("package"), Mapping):
            continue
        parent = str(PurePosixPath(manifest_path).parent)
        root = "" if parent == "." else parent
        for name in _package_names(manifest):
            primary.setdefault(rustc_name(name), set()).add(root)
        for name in {*_declared_targets(manifest), *_discovered_targets(root, target_sources)}:
            secondary.setdefault(rustc_name(name), set()).add(root)
    # A library's name wins over another package's test or binary of the same name.
    owners = {**{n: r for n, r in secondary.items() if n not in primary}, **primary}
    return {name: roots.pop() for name, roots in sorted(owners.items()) if len(roots) == 1}
