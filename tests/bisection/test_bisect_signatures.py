from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_monitor.bisection import matches_target
from build_monitor.builders.signatures import normalize_signature, same_failure


def test_line_and_column_numbers_do_not_matter() -> None:
    assert matches_target(
        "thread 'x' panicked at src/api.rs:40:9: status 500",
        "thread 'x' panicked at src/api.rs:52:13: status 500",
    )


def test_whitespace_is_normalised() -> None:
    assert matches_target("error[E0308]:  mismatched\ttypes\n", " error[E0308]: mismatched types")


@pytest.mark.parametrize(
    "other",
    [
        "thread 'y' panicked at src/api.rs:40:9: status 500",
        "error[E0432]: unresolved import `crate::cache` --> src/cache.rs:3:5",
        "thread 'x' panicked at src/db.rs:40:9: status 500",
    ],
)
def test_different_failures_do_not_match(other: str) -> None:
    assert not matches_target("thread 'x' panicked at src/api.rs:40:9: status 500", other)


def test_missing_signature_matches_only_missing_target() -> None:
    assert not matches_target("boom at a.rs:1:1", None)
    assert not matches_target(None, "boom")
    assert matches_target(None, None)


def test_normalize_signature_drops_line_and_column_numbers() -> None:
    # Until the two matchers became one, bisection had its own normaliser that rewrote the
    # numbers to `:N`; the one normaliser drops them, which makes the same signatures equal.
    assert (
        normalize_signature("  at src/lib.rs:10:5 and main.rs:7  ") == "at src/lib.rs and main.rs"
    )


@given(target=st.text(), signature=st.text())
def test_a_known_target_is_matched_by_the_one_signature_matcher(
    target: str, signature: str
) -> None:
    assert matches_target(target, signature) == same_failure(target, signature)
