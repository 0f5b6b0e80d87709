"""`build-monitor bisect` against `git bisect run` on histories of real crates from crates.io.

Usage: .venv/bin/python benchmarks/bisect_crates.py [--cases all] [--runs 1] [--parallel 1]
                                                   [--cache-dir ~/.cache/build-monitor-bench]

Each case is a small project that depends on a real, dependency-free crate and has one test
relying on a behaviour the crate changed in a published release. The history has one commit
per published version ("Upgrade httparse to 1.7.0"), the crate's published sources vendored
under `vendor/<crate>` as a path dependency, so every build is offline. The `.crate` files come
from static.crates.io (versions listed by the sparse index at index.crates.io) and are cached
outside the project; the repositories are built in a temporary directory.

Both tools bisect from the first version (good) to the last (bad) with the same commands,
`cargo build --release --offline -q` and `cargo test --release --offline -q`, each with its own
warm target dir. The bad commit has no recorded failure (the command-line case). The table shows
whether each named the release that changed the behaviour, the builds, and the wall-time ratio.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _real_repos import RepoPath, Run, build_monitor_bisect, ensure_prefect_api, git_bisect_run
from _real_repos import write_config as write_service_config

BUILD = "cargo build --release --offline -q"
TEST = "cargo test --release --offline -q"
INDEX_URL = "https://index.crates.io"
DOWNLOAD_URL = "https://static.crates.io/crates/{name}/{name}-{version}.crate"


@dataclass(frozen=True)
class Case:
    key: str
    crate: str
    first: str
    last: str
    first_bad: str
    """The release that changed the behaviour (found by running the test at every release)."""
    behaviour: str
    test: str
    """The project's test, in `src/main.rs` under `#[cfg(test)] mod tests`."""


CASES = (
    Case(
        key="httparse-double-space",
        crate="httparse",
        first="1.0.0",
        last="1.10.1",
        first_bad="1.7.0",
        behaviour="a request line with two spaces after the method fails as Error::Version",
        test="""
    #[test]
    fn double_space_is_a_version_error() {
        let mut headers = [httparse::EMPTY_HEADER; 4];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = request.parse(b"GET  / HTTP/1.1\\r\\n\\r\\n");
        assert!(matches!(parsed, Err(httparse::Error::Version)), "got {:?}", parsed);
    }
""",
    ),
    Case(
        key="httparse-space-before-colon",
        crate="httparse",
        first="1.0.0",
        last="1.10.1",
        first_bad="1.2.3",
        behaviour="a header name followed by a space before the colon parses",
        test="""
    #[test]
    fn space_before_colon_parses() {
        let mut headers = [httparse::EMPTY_HEADER; 4];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = request.parse(b"GET / HTTP/1.1\\r\\nHost : example.com\\r\\n\\r\\n");
        assert!(matches!(parsed, Ok(httparse::Status::Complete(_))), "got {:?}", parsed);
    }
""",
    ),
    Case(
        key="semver-empty-error",
        crate="semver",
        first="1.0.0",
        last="1.0.28",
        first_bad="1.0.17",
        behaviour="parsing an empty version reports 'unexpected end of input'",
        test="""
    #[test]
    fn empty_version_error_names_the_end_of_input() {
        let error = semver::Version::parse("").unwrap_err().to_string();
        assert!(error.contains("unexpected end of input"), "got {error:?}");
    }
""",
    ),
)


def _index_path(name: str) -> str:
    if len(name) <= 2:
        return f"{len(name)}/{name}"
    if len(name) == 3:
        return f"3/{name[0]}/{name}"
    return f"{name[:2]}/{name[2:4]}/{name}"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def published_versions(name: str, first: str, last: str) -> list[str]:
    """Released (not yanked, not pre-release) versions from `first` to `last`, oldest first,
    whose only non-dev dependencies are optional (so the crate builds offline)."""
    with urllib.request.urlopen(f"{INDEX_URL}/{_index_path(name)}", timeout=30) as response:
        lines = response.read().decode().splitlines()
    versions = []
    for line in lines:
        entry = json.loads(line)
        version = entry["vers"]
        if entry["yanked"] or "-" in version or "+" in version:
            continue
        needed = [d for d in entry["deps"] if d.get("kind") != "dev" and not d.get("optional")]
        if not needed and _version_key(first) <= _version_key(version) <= _version_key(last):
            versions.append(version)
    return sorted(versions, key=_version_key)


def download(name: str, version: str, cache: Path) -> bytes:
    path = cache / f"{name}-{version}.crate"
    if not path.exists():
        url = DOWNLOAD_URL.format(name=name, version=version)
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path.read_bytes()


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
    env = {
        **os.environ,
        **dates,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    completed = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return completed.stdout.strip()


def build_history(case: Case, versions: list[str], cache: Path, repo: Path) -> dict[str, str]:
    """One commit per version; returns version -> sha."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "--initial-branch=main")
    (repo / ".gitignore").write_text("/target\nCargo.lock\n")
    (repo / "Cargo.toml").write_text(
        '[package]\nname = "uses-crate"\nversion = "0.1.0"\nedition = "2021"\n\n'
        f'[dependencies]\n{case.crate} = {{ path = "vendor/{case.crate}" }}\n'
    )
    (repo / "src").mkdir()
    (repo / "src" / "main.rs").write_text(
        f'fn main() {{\n    println!("uses {case.crate}");\n}}\n\n'
        f"#[cfg(test)]\nmod tests {{{case.test}}}\n"
    )
    shas = {}
    vendor = repo / "vendor" / case.crate
    for index, version in enumerate(versions):
        shutil.rmtree(vendor, ignore_errors=True)
        vendor.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(download(case.crate, version, cache))) as archive:
            archive.extractall(vendor.parent / "unpacked", filter="data")
        unpacked = vendor.parent / "unpacked" / f"{case.crate}-{version}"
        for item in unpacked.iterdir():
            if item.name not in {".cargo_vcs_info.json", "Cargo.toml.orig", "Cargo.lock"}:
                item.rename(vendor / item.name)
        shutil.rmtree(vendor.parent / "unpacked")
        _git(repo, "add", "-A")
        message = f"Use {case.crate} {version}" if index == 0 else f"Upgrade to {version}"
        date = f"{1_600_000_000 + index * 86_400} +0000"
        _git(repo, "commit", "-q", "-m", message, date=date)
        shas[version] = _git(repo, "rev-parse", "HEAD")
    return shas


@dataclass(frozen=True)
class Row:
    case: Case
    versions: int
    culprit: str
    git: Run
    ours: Run


def run_case(case: Case, cache: Path, scratch: Path, parallel: int | None, number: int) -> Row:
    versions = published_versions(case.crate, case.first, case.last)
    workdir = scratch / f"{case.key}-{number}"
    workdir.mkdir()
    shas = build_history(case, versions, cache, workdir / "repo")
    repo = RepoPath(workdir / "repo")
    good, bad = shas[versions[0]], shas[versions[-1]]
    git = git_bisect_run(repo, workdir, good=good, bad=bad, build=BUILD, test=TEST)
    config = write_service_config(repo, workdir, "crate", build=BUILD, test=TEST)
    extra = ("--parallel", str(parallel)) if parallel else ()
    ours = build_monitor_bisect(config, good=good, bad=bad, name="crate", extra=extra)
    return Row(case, len(versions), shas[case.first_bad], git, ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=["all"], help="case keys, or all")
    parser.add_argument("--runs", type=int, default=1, help="repetitions of each case")
    parser.add_argument("--parallel", type=int, default=None, help="build-monitor --parallel")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "build-monitor-bench" / "crates",
        help="where downloaded .crate files are kept",
    )
    args = parser.parse_args()
    chosen = [c for c in CASES if "all" in args.cases or c.key in args.cases]
    if not chosen or not 1 <= args.runs <= 20:
        parser.error(f"--cases from {[c.key for c in CASES]} or all; --runs 1..20")
    if not shutil.which("cargo"):
        sys.exit("cargo is not installed")
    ensure_prefect_api()
    started = time.monotonic()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bm-crates-") as scratch:
        for number in range(args.runs):
            for case in chosen:
                row = run_case(case, args.cache_dir, Path(scratch), args.parallel, number)
                rows.append(row)
                print(
                    f"{case.key} run {number + 1}: {row.versions} releases; git bisect "
                    f"{'right' if row.git.blamed == row.culprit else 'WRONG'} "
                    f"{row.git.builds} builds {row.git.seconds:.1f}s, build-monitor "
                    f"{'right' if row.ours.blamed == row.culprit else 'WRONG'} "
                    f"{row.ours.builds} builds {row.ours.seconds:.1f}s (its probes: "
                    f"{', '.join(f'{p:.1f}s' for p in row.ours.probe_seconds)})",
                    flush=True,
                )
    print()
    for case in chosen:
        print(f"{case.key}: test '{case.behaviour}' fails from {case.crate} {case.first_bad}")
    header = (
        f"{'case':<28} {'releases':>8} | {'right git/bm':>12} | {'builds git':>10} "
        f"{'builds bm':>9} | {'wall git':>8} {'wall bm':>8} {'bm/git':>7} | "
        f"{'outside builds git/bm':>21}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        right = "/".join("yes" if r.blamed == row.culprit else "NO" for r in (row.git, row.ours))
        print(
            f"{row.case.key:<28} {row.versions:>8} | {right:>12} | {row.git.builds:>10} "
            f"{row.ours.builds:>9} | {row.git.seconds:>7.1f}s {row.ours.seconds:>7.1f}s "
            f"{row.ours.seconds / row.git.seconds:>6.2f}x | "
            f"{f'{row.git.outside_builds:.1f}s / {row.ours.outside_builds:.1f}s':>21}"
        )
    git_s = sum(r.git.seconds for r in rows)
    ours_s = sum(r.ours.seconds for r in rows)
    print(
        f"{'total':<28} {'':>8} | {'':>12} | {sum(r.git.builds for r in rows):>10} "
        f"{sum(r.ours.builds for r in rows):>9} | {git_s:>7.1f}s {ours_s:>7.1f}s "
        f"{ours_s / git_s:>6.2f}x"
    )
    print(f"finished in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
