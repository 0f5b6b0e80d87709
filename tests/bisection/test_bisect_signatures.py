from __future__ import annotations

import pytest

from build_monitor.bisection import normalise_signature, signatures_match


def test_line_and_column_numbers_do_not_matter() -> None:
    assert signatures_match(
        "thread 'x' panicked at src/api.rs:40:9: status 500",
        "thread 'x' panicked at src/api.rs:52:13: status 500",
    )


def test_whitespace_is_normalised() -> None:
    assert signatures_match("error[E0308]:  mismatched\ttypes\n", " error[E0308]: mismatched types")


@pytest.mark.parametrize(
    "other",
    [
        "thread 'y' panicked at src/api.rs:40:9: status 500",
        "error[E0432]: unresolved import `crate::cache` --> src/cache.rs:3:5",
        "thread 'x' panicked at src/db.rs:40:9: status 500",
    ],
)
def test_different_failures_do_not_match(other: str) -> None:
    assert not signatures_match("thread 'x' panicked at src/api.rs:40:9: status 500", other)


def test_missing_signature_matches_only_missing_target() -> None:
    assert not signatures_match("boom at a.rs:1:1", None)
    assert not signatures_match(None, "boom")
    assert signatures_match(None, None)


def test_normalise_signature() -> None:
    assert (
        normalise_signature("  at src/lib.rs:10:5 and main.rs:7  ")
        == "at src/lib.rs:N and main.rs:N"
    )
