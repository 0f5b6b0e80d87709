from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_monitor.webhooks.payloads import (
    PayloadError,
    decode_payload,
    parse_github_push,
    parse_gitlab_push,
)
from tests.webhooks.fixtures import payload, payload_bytes


def test_github_push_fields() -> None:
    push = parse_github_push(payload("github-push.json"))
    assert push.branch == "master"
    assert push.before == "17c497ccc7cca9c2f735aa07e9e3813060ce9a6a"
    assert push.after == "1481a2de7b2a7d02428ad93446ab166be7793fbb"
    assert push.pusher == "Codertocat"
    assert push.repository == "Codertocat/Hello-World"
    assert push.commit_count == 3
    assert "git@github.com:Codertocat/Hello-World.git" in push.repository_urls
    assert not push.is_tag and not push.is_deletion


def test_github_new_branch_has_no_before() -> None:
    push = parse_github_push(payload("github-push-new-branch.json"))
    assert push.before is None
    assert push.after == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


@pytest.mark.parametrize("name", ["github-push-tag.json", "github-push-tag-delete.json"])
def test_github_tags_are_tags(name: str) -> None:
    push = parse_github_push(payload(name))
    assert push.is_tag and push.branch is None


def test_github_branch_deletion_has_no_after() -> None:
    push = parse_github_push(payload("github-push-branch-delete.json"))
    assert push.is_deletion and push.branch == "master"


def test_gitlab_push_fields() -> None:
    push = parse_gitlab_push(payload("gitlab-push.json"))
    assert push.branch == "master"
    assert push.after == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert push.pusher == "jsmith"
    assert push.commit_count == 4
    assert push.repository == "mike/diaspora"
    assert "http://example.com/mike/diaspora.git" in push.repository_urls


def test_gitlab_new_branch_and_deletion() -> None:
    assert parse_gitlab_push(payload("gitlab-push-new-branch.json")).before is None
    assert parse_gitlab_push(payload("gitlab-push-branch-delete.json")).is_deletion
    assert parse_gitlab_push(payload("gitlab-tag-push.json")).is_tag


def test_json_and_form_encoded_bodies_decode_the_same() -> None:
    raw = payload_bytes("github-push.json")
    form = urlencode({"payload": raw.decode()}).encode()
    as_json = decode_payload("application/json; charset=utf-8", raw)
    assert decode_payload("application/x-www-form-urlencoded", form) == as_json


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"{}", 415),
        (None, b"{}", 415),
        ("application/json", b"{not json", 400),
        ("application/json", b"[1, 2]", 400),
        ("application/json", b"\xff\xfe", 400),
        ("application/json", b"[" * 100_000, 400),
        ("application/x-www-form-urlencoded", b"other=1", 400),
        ("application/x-www-form-urlencoded", b"payload=1&payload=2", 400),
    ],
)
def test_bad_bodies_are_clear_errors(content_type: str | None, body: bytes, status: int) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload(content_type, body)
    assert caught.value.status == status
    assert caught.value.message


@pytest.mark.parametrize(
    "change",
    [
        {"ref": 5},
        {"ref": ""},
        {"after": "not-a-sha"},
        {"before": None},
        {"after": "1481A2DE7B2A7D02428AD93446AB166BE7793FBB"},
        {"repository": "x"},
    ],
)
def test_malformed_push_fields_are_rejected(change: dict[str, object]) -> None:
    data = payload("github-push.json") | change
    with pytest.raises(PayloadError) as caught:
        parse_github_push(data)
    assert caught.value.status == 400


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.recursive(
            st.none() | st.text(),
            lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
            max_leaves=8,
        ),
    )
)
def test_arbitrary_objects_parse_or_fail_cleanly(data: dict[str, object]) -> None:
    for parse in (parse_github_push, parse_gitlab_push):
        try:
            parse(data)
        except PayloadError as exc:
            assert exc.status == 400


@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_fail_cleanly(body: bytes) -> None:
    try:
        assert isinstance(decode_payload("application/json", body), dict)
    except PayloadError as exc:
        assert exc.status == 400
