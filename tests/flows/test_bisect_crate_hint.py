"""The bisect flow's prior hint on a generated Cargo workspace (two member crates, the local
builder): the failing test's files are placed in its crate, a commit that touches that crate
but not the file gets crate weight, a file of the same name in the other crate gets nothing,
and `prior_hint` in `--json` names the crate."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from build_monitor.bisection.hints import CRATE_WEIGHT, HINT_MIX
from build_monitor.sample.service import BRANCH, SampleRepo, add_commit
from tests.flows.test_bisect import bisect_cli, local_config

pytestmark = pytest.mark.prefect

TARGET = "parse::tests::reads_a_port [unittests src/lib.rs]"
PARSE = "crates/net/src/parse.rs"
# A binary crate: two library crates would both run `unittests src/lib.rs`, and test-level
# judging keys a test by binary name alone, so it would look the test up in the wrong crate.
MODEL = "crates/model/src/main.rs"
# The other crate's `src/parse.rs`: the failing test's `src/parse.rs` does not name it.
MODEL_PARSE = "crates/model/src/parse.rs"


def _manifest(name: str) -> str:
    return f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n'


def _parse(offset: int) -> str:
    return (
        f"pub fn port(text: &str) -> u16 {{\n    text.parse::<u16>().unwrap() + {offset}\n}}\n\n"
        "#[cfg(test)]\nmod tests {\n    #[test]\n"
        '    fn reads_a_port() {\n        assert_eq!(super::port("80"), 80);\n    }\n}\n'
    )


def _model(revision: int) -> str:
    return (
        f'const REVISION: u32 = {revision};\n\nfn main() {{\n    println!("{{REVISION}}");\n}}\n\n'
        "#[cfg(test)]\nmod tests {\n    #[test]\n"
        "    fn revision_is_set() {\n        assert!(super::REVISION > 0);\n    }\n}\n"
    )


def workspace_repo(path: Path) -> tuple[SampleRepo, list[list[str]]]:
    """A workspace of `crates/net` (a library) and `crates/model` (a binary); after the good
    commit, model-only commits, one that touches `crates/net/src/lib.rs` only, and the culprit
    breaking `net::parse`. Returns the repo and the files each candidate commit touched."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", f"--initial-branch={BRANCH}", str(path)], check=True)
    first = {
        "Cargo.toml": '[workspace]\nmembers = ["crates/net", "crates/model"]\nresolver = "2"\n',
        ".gitignore": "/target\n",
        "crates/net/Cargo.toml": _manifest("net"),
        "crates/net/src/lib.rs": "pub mod parse;\n",
        PARSE: _parse(0),
        "crates/model/Cargo.toml": _manifest("model"),
        MODEL: _model(1),
    }
    for relative, text in first.items():
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_text(text)
    identity = ["-c", "user.name=h1", "-c", "user.email=h1@example.com"]
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), *identity, "commit", "-qm", "Workspace"], check=True)
    head = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    changes: list[tuple[str, dict[str, str]]] = [
        ("model: revision 2", {MODEL: _model(2)}),
        ("net: document the crate", {"crates/net/src/lib.rs": "//! Ports.\npub mod parse;\n"}),
        ("model: revision 3", {MODEL: _model(3)}),
        ("model: a parse module", {MODEL_PARSE: "pub fn revision() -> u32 {\n    3\n}\n"}),
        ("net: count ports from one", {PARSE: _parse(1)}),
        ("model: revision 4", {MODEL: _model(4)}),
        ("model: revision 5", {MODEL: _model(5)}),
    ]
    commits = [head.stdout.strip()]
    commits += [add_commit(path, message, files) for message, files in changes]
    repo = SampleRepo(
        path=path,
        branch=BRANCH,
        commits=commits,
        good=commits[0],
        culprit=commits[5],
        binary="net",
        expected_signature=None,
    )
    return repo, [sorted(files) for _, files in changes]


def test_a_commit_in_the_failing_files_crate_gets_crate_weight(
    tmp_path: Path, prefect_api_url: str
) -> None:
    repo, touched = workspace_repo(tmp_path / "repo-h1-workspace")
    assert touched[1] == ["crates/net/src/lib.rs"] and touched[3] == [MODEL_PARSE]
    assert touched[4] == [PARSE]
    config = local_config(tmp_path, repo, health=False)

    exit_code, report = bisect_cli(config, "--good", repo.commits[0])

    assert (exit_code, report["status"], report["culprit"]) == (0, "confirmed", repo.culprit), (
        report["reason"]
    )
    assert report["target_tests"] == [TARGET]
    hint = report["prior_hint"]
    assert isinstance(hint, dict)
    # The test binary's package-relative `src/parse.rs` is placed in its crate, `crates/net`.
    assert hint["files"] == [PARSE, "crates/net/src/parse/mod.rs"]
    assert hint.get("crates") == ["crates/net"]
    # One named commit at weight 1 and one crate commit at CRATE_WEIGHT share the hinted half
    # (the model crate's `src/parse.rs` gets none); without the crate roots the named commit
    # would get the whole of it.
    candidates = len(repo.commits) - 1
    uniform = HINT_MIX / candidates
    assert hint["share"] == pytest.approx(uniform + (1 - HINT_MIX) / (1 + CRATE_WEIGHT), abs=1e-6)
    assert hint["share"] < uniform + (1 - HINT_MIX) - 0.05
