"""Files a failure names, and the prior they give each candidate commit (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_monitor.bisection.hints import (
    CRATE_WEIGHT,
    HINT_MIX,
    PriorHint,
    crate_roots,
    failure_hints,
    files_of_test,
    hint_prior,
)
from build_monitor.bisection.libtest import TestId, parse_test_log
from build_monitor.bisection.target import Target

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("test", "files"),
    [
        (TestId("unittests src/lib.rs", "tests::predicts_positive_example"), ["src/lib.rs"]),
        (TestId("unittests src/lib.rs", "net::tests::x"), ["src/net.rs", "src/net/mod.rs"]),
        (
            TestId("unittests src/lib.rs", "net::http::tests::x"),
            ["src/net/http.rs", "src/net/http/mod.rs"],
        ),
        (TestId("tests/api.rs", "answers_ping"), ["tests/api.rs"]),
        (TestId("doctests kit", "src/lib.rs - parse (line 3)"), ["src/lib.rs"]),
    ],
)
def test_a_tests_module_path_maps_to_its_file(test: TestId, files: list[str]) -> None:
    assert files_of_test(test) == files


def test_hints_are_panic_locations_module_files_and_compile_error_paths() -> None:
    failed = parse_test_log((DATA / "cargo_test_predict_failed.log").read_text())
    assert failure_hints(failed) == ("src/main.rs",)
    compile_error = parse_test_log((DATA / "cargo_build_e0308.log").read_text())
    assert failure_hints(compile_error) == ("src/main.rs",)
    flaky = parse_test_log((DATA / "cargo_test_flaky_failed.log").read_text())
    unrelated = Target(tests=("tests::predict_doubles_input [unittests src/main.rs]",))
    assert failure_hints(flaky, unrelated) == ()


WORKSPACE_DIRECTORIES = {"api": "crates/net-io", "model": "crates/model", "net_io": "crates/net-io"}


def test_a_workspace_tests_files_are_placed_in_its_crate() -> None:
    # Real `cargo test --no-fail-fast` of a workspace: `net_io`'s unit test, its integration
    # test `tests/api.rs` and its doc test fail; `model`'s unit tests pass.
    log = parse_test_log((DATA / "cargo_test_workspace_failed.log").read_text())
    unit = Target(tests=("tests::broken [unittests src/lib.rs]",))

    assert failure_hints(log, unit, WORKSPACE_DIRECTORIES) == ("crates/net-io/src/lib.rs",)
    # Without the directories the package-relative `src/lib.rs` names every crate's library.
    assert failure_hints(log, unit) == ("crates/net-io/src/lib.rs", "src/lib.rs")
    assert failure_hints(log, None, WORKSPACE_DIRECTORIES) == (
        "crates/net-io/src/lib.rs",
        "crates/net-io/tests/api.rs",
    )
    touched = [["crates/model/src/lib.rs"], ["crates/net-io/src/lib.rs"], ["README.md"]]
    placed = hint_prior(failure_hints(log, unit, WORKSPACE_DIRECTORIES), touched)
    unplaced = hint_prior(failure_hints(log, unit), touched)
    assert placed is not None and unplaced is not None
    assert placed.weights[0] == placed.weights[2] < placed.weights[1]
    assert unplaced.weights[0] == unplaced.weights[1]


def test_crate_roots_leave_out_the_repository_root() -> None:
    assert crate_roots({"svc": "", **WORKSPACE_DIRECTORIES}) == ("crates/model", "crates/net-io")


def test_the_prior_mixes_uniform_with_the_commits_touching_the_named_files() -> None:
    touched = [["README.md"], ["crates/net/src/net.rs"], ["src/api.rs"], ["crates/net/Cargo.toml"]]
    hint = hint_prior(["src/net.rs"], touched, crate_roots=["", "crates/net"])

    assert isinstance(hint, PriorHint)
    assert sum(hint.weights) == pytest.approx(1.0)
    raw = [0.0, 1.0, 0.0, CRATE_WEIGHT]
    expected = [HINT_MIX / 4 + (1 - HINT_MIX) * w / sum(raw) for w in raw]
    assert hint.weights == pytest.approx(expected)
    assert hint.share == pytest.approx(expected[1])
    assert hint.to_dict() == {
        "files": ["src/net.rs"],
        "share": round(expected[1], 6),
        "crates": ["crates/net"],
    }
    assert PriorHint.from_snapshot(hint.snapshot()) == hint


def test_no_commit_touching_the_named_files_means_no_hint() -> None:
    assert hint_prior(["src/net.rs"], [["README.md"], ["src/api.rs"]]) is None
    assert hint_prior([], [["src/net.rs"]]) is None


WORKSPACE_ROOTS = ("crates/model", "crates/net")
# What a failing `net::parse::tests` test names in a workspace: its panic location and its
# module's file relative to the crate.
NET_HINTS = ("crates/net/src/parse.rs", "src/parse.rs", "src/parse/mod.rs")
WORKSPACE_PATHS = (
    "crates/net/src/parse.rs",
    "crates/net/src/lib.rs",
    "crates/net/Cargo.toml",
    "crates/model/src/lib.rs",
    "crates/model/src/parse/table.rs",
    "Cargo.toml",
    "Cargo.lock",
    "README.md",
)


def test_commits_in_the_named_files_crate_outweigh_commits_in_another_crate() -> None:
    touched = [
        ["crates/model/src/lib.rs"],
        ["crates/net/src/lib.rs"],
        ["Cargo.toml", "Cargo.lock"],
        ["crates/net/src/parse.rs"],
        ["crates/model/src/lib.rs", "README.md"],
    ]
    hint = hint_prior(NET_HINTS, touched, crate_roots=("", *WORKSPACE_ROOTS))

    assert hint is not None
    model, net, root, named, model_again = hint.weights
    assert named > net > model
    assert model == root == model_again == pytest.approx(HINT_MIX / 5)
    assert net == pytest.approx(HINT_MIX / 5 + (1 - HINT_MIX) * CRATE_WEIGHT / (1 + CRATE_WEIGHT))
    assert hint.crates == ("crates/net",)
    assert hint.to_dict()["crates"] == ["crates/net"]
    assert PriorHint.from_snapshot(hint.snapshot()) == hint
    # Without the crate roots only the named file counts: the net commit is one of the rest.
    flat = hint_prior(NET_HINTS, touched)
    assert flat is not None and flat.crates == () and "crates" not in flat.to_dict()
    assert flat.weights[1] == flat.weights[0] and flat.share > hint.share


def test_a_named_path_gives_its_crate_when_no_commit_touched_the_file() -> None:
    touched = [["crates/model/src/lib.rs"], ["crates/net/src/lib.rs"], ["README.md"]]
    hint = hint_prior(NET_HINTS, touched, crate_roots=WORKSPACE_ROOTS)

    assert hint is not None and hint.crates == ("crates/net",) and hint.share == 0.0
    assert hint.weights[1] == pytest.approx(HINT_MIX / 3 + 1 - HINT_MIX)
    assert hint_prior(NET_HINTS, touched) is None


def test_the_repository_root_is_never_a_crate() -> None:
    # A single-crate repository: its only Cargo.toml is at the root, so no commit gets crate
    # weight, whatever it touched.
    touched = [["src/api.rs"], ["src/parse.rs"], ["Cargo.toml"]]
    hint = hint_prior(["src/parse.rs"], touched, crate_roots=("", "/"))

    assert hint is not None and hint.crates == ()
    assert hint == hint_prior(["src/parse.rs"], touched)
    assert hint.weights[0] == hint.weights[2] == pytest.approx(HINT_MIX / 3)


@given(
    touched=st.lists(
        st.lists(st.sampled_from(WORKSPACE_PATHS), min_size=1, max_size=3), min_size=1, max_size=9
    )
)
def test_crate_weight_orders_named_then_crate_then_the_rest(touched: list[list[str]]) -> None:
    with_root = hint_prior(NET_HINTS, touched, crate_roots=("", *WORKSPACE_ROOTS))
    assert with_root == hint_prior(NET_HINTS, touched, crate_roots=WORKSPACE_ROOTS)

    def rank(commit: list[str]) -> int:
        if any(path.endswith(NET_HINTS[1]) for path in commit):
            return 2
        return 1 if any(path.startswith("crates/net/") for path in commit) else 0

    ranks = [rank(commit) for commit in touched]
    if with_root is None:
        assert ranks == [0] * len(touched)
        return
    assert sum(with_root.weights) == pytest.approx(1.0)
    for weight, own in zip(with_root.weights, ranks, strict=True):
        for other, theirs in zip(with_root.weights, ranks, strict=True):
            if own > theirs:
                assert weight > other
            elif own == theirs:
                assert weight == pytest.approx(other)
    assert with_root.crates == (("crates/net",) if any(r == 1 for r in ranks) else ())
