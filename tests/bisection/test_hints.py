"""Files a failure names, and the prior they give each candidate commit (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_monitor.bisection.hints import (
    CRATE_WEIGHT,
    PriorHint,
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


def test_the_prior_is_half_uniform_half_on_commits_touching_the_named_files() -> None:
    touched = [["README.md"], ["crates/net/src/net.rs"], ["src/api.rs"], ["crates/net/Cargo.toml"]]
    hint = hint_prior(["src/net.rs"], touched, crate_roots=["", "crates/net"])

    assert isinstance(hint, PriorHint)
    assert sum(hint.weights) == pytest.approx(1.0)
    raw = [0.0, 1.0, 0.0, CRATE_WEIGHT]
    expected = [0.5 / 4 + 0.5 * w / sum(raw) for w in raw]
    assert hint.weights == pytest.approx(expected)
    assert hint.share == pytest.approx(expected[1])
    assert hint.to_dict() == {"files": ["src/net.rs"], "share": round(expected[1], 6)}
    assert PriorHint.from_snapshot(hint.snapshot()) == hint


def test_no_commit_touching_the_named_files_means_no_hint() -> None:
    assert hint_prior(["src/net.rs"], [["README.md"], ["src/api.rs"]]) is None
    assert hint_prior([], [["src/net.rs"]]) is None
