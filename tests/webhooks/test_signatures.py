from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from build_monitor.webhooks.signatures import (
    github_signature,
    verify_github_signature,
    verify_gitlab_token,
)

GITHUB_DOC_SECRET = "It's a Secret to Everybody"
GITHUB_DOC_BODY = b"Hello, World!"
GITHUB_DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_test_vector_verifies() -> None:
    assert github_signature(GITHUB_DOC_SECRET, GITHUB_DOC_BODY) == GITHUB_DOC_SIGNATURE
    assert verify_github_signature(GITHUB_DOC_SECRET, GITHUB_DOC_BODY, GITHUB_DOC_SIGNATURE)


def test_signature_of_other_body_or_secret_fails() -> None:
    assert not verify_github_signature(GITHUB_DOC_SECRET, b"Hello, World?", GITHUB_DOC_SIGNATURE)
    assert not verify_github_signature("another secret", GITHUB_DOC_BODY, GITHUB_DOC_SIGNATURE)


def test_missing_malformed_or_unprefixed_signatures_fail() -> None:
    bare_hex = GITHUB_DOC_SIGNATURE.removeprefix("sha256=")
    for header in (None, "", "sha256=", bare_hex, "sha1=" + bare_hex, GITHUB_DOC_SIGNATURE.upper()):
        assert not verify_github_signature(GITHUB_DOC_SECRET, GITHUB_DOC_BODY, header)


def test_empty_secret_never_verifies() -> None:
    assert not verify_github_signature("", b"x", github_signature("", b"x"))
    assert not verify_gitlab_token("", "")


def test_non_ascii_headers_are_rejected_not_crashing() -> None:
    assert not verify_github_signature("s", b"x", "sha256=\u00e9\u00e9")
    assert not verify_gitlab_token("token", "t\u00f6ken")


def test_gitlab_token_must_match_exactly() -> None:
    assert verify_gitlab_token("s3cret", "s3cret")
    for header in (None, "", "s3cre", "s3cret ", "S3CRET"):
        assert not verify_gitlab_token("s3cret", header)


@given(secret=st.text(min_size=1), body=st.binary())
def test_any_signed_body_verifies(secret: str, body: bytes) -> None:
    assert verify_github_signature(secret, body, github_signature(secret, body))


@given(secret=st.text(min_size=1), body=st.binary(), extra=st.binary(min_size=1))
def test_any_change_to_the_body_breaks_the_signature(
    secret: str, body: bytes, extra: bytes
) -> None:
    assert not verify_github_signature(secret, body + extra, github_signature(secret, body))


@given(secret=st.text(min_size=1), body=st.binary(), header=st.text())
def test_arbitrary_headers_do_not_verify(secret: str, body: bytes, header: str) -> None:
    if header.strip() != github_signature(secret, body):
        assert not verify_github_signature(secret, body, header)
