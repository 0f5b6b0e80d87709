from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prefect.events import Event

from build_monitor.webhooks.events import PUSH_EVENT, push_event_id
from build_monitor.webhooks.intake import Delivery, Verdict, delivery_key, judge_delivery
from build_monitor.webhooks.matching import WatchedRepo
from build_monitor.webhooks.signatures import github_signature
from tests.webhooks.fixtures import (
    DIASPORA_REPO,
    GITHUB_SECRET,
    GITLAB_TOKEN,
    HELLO_WORLD_REPO,
    payload_bytes,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WATCHED_GITHUB = [
    WatchedRepo("hello", HELLO_WORLD_REPO, "master", GITHUB_SECRET),
    WatchedRepo("hello-dev", "git@github.com:codertocat/hello-world", "develop", GITHUB_SECRET),
]
WATCHED_GITLAB = [WatchedRepo("diaspora", DIASPORA_REPO, "master", GITLAB_TOKEN)]


def github(
    name: str,
    *,
    event: str = "push",
    secret: str = GITHUB_SECRET,
    watched: list[WatchedRepo] = WATCHED_GITHUB,
    forge_secret: str | None = GITHUB_SECRET,
    signature: str | None = None,
) -> Verdict:
    body = payload_bytes(name)
    delivery = Delivery(
        forge="github",
        event=event,
        delivery_id="d-1",
        content_type="application/json",
        body=body,
        credential=signature if signature is not None else github_signature(secret, body),
    )
    return judge_delivery(delivery, watched, forge_secret=forge_secret, occurred=NOW)


def gitlab(name: str, *, event: str = "Push Hook", token: str = GITLAB_TOKEN) -> Verdict:
    delivery = Delivery(
        forge="gitlab",
        event=event,
        delivery_id="gl-1",
        content_type="application/json",
        body=payload_bytes(name),
        credential=token,
    )
    return judge_delivery(delivery, WATCHED_GITLAB, forge_secret=GITLAB_TOKEN, occurred=NOW)


def test_signed_github_push_becomes_one_event_for_the_right_service() -> None:
    verdict = github("github-push.json")
    assert (verdict.status, verdict.outcome, verdict.services) == (202, "accepted", ("hello",))
    (event,) = verdict.events
    assert event["event"] == PUSH_EVENT
    assert event["resource"]["prefect.resource.id"] == "build-monitor.service.hello"
    assert event["payload"]["after"] == "1481a2de7b2a7d02428ad93446ab166be7793fbb"
    assert event["payload"]["before"] == "17c497ccc7cca9c2f735aa07e9e3813060ce9a6a"
    assert event["payload"]["pusher"] == "Codertocat"
    assert event["id"] == push_event_id("github", "d-1", "hello")


def test_the_event_is_a_valid_prefect_event() -> None:
    (event,) = github("github-push.json").events
    parsed = Event.model_validate(event)
    assert parsed.resource.id == "build-monitor.service.hello"
    assert parsed.occurred == NOW


def test_new_branch_push_has_no_before() -> None:
    verdict = github("github-push-new-branch.json")
    assert verdict.outcome == "accepted"
    assert verdict.events[0]["payload"]["before"] is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("github-push-tag.json", "tag push"),
        ("github-push-tag-delete.json", "tag deletion"),
        ("github-push-branch-delete.json", "deleted"),
    ],
)
def test_tags_and_deletions_are_acknowledged_and_do_nothing(name: str, words: str) -> None:
    verdict = github(name)
    assert (verdict.status, verdict.outcome, verdict.events) == (202, "ignored", ())
    assert words in verdict.reason


def test_ping_is_answered() -> None:
    verdict = github("github-ping.json", event="ping")
    assert (verdict.status, verdict.outcome) == (200, "pong")


def test_other_events_are_ignored() -> None:
    verdict = github("github-push.json", event="issues")
    assert (verdict.status, verdict.outcome) == (202, "ignored")


def test_unmonitored_repository_gets_a_reason() -> None:
    verdict = github("github-push.json", watched=WATCHED_GITLAB)
    assert (verdict.status, verdict.outcome) == (202, "ignored")
    assert "no monitored service uses repository 'Codertocat/Hello-World'" in verdict.reason


def test_unmonitored_branch_gets_a_reason() -> None:
    verdict = github("github-push.json", watched=WATCHED_GITHUB[1:])
    assert (verdict.status, verdict.outcome) == (202, "ignored")
    assert "branch 'master'" in verdict.reason and "develop" in verdict.reason


def test_two_services_on_one_branch_each_get_an_event() -> None:
    twins = [
        *WATCHED_GITHUB,
        WatchedRepo("hello-2", "github.com:Codertocat/Hello-World", "master", GITHUB_SECRET),
    ]
    verdict = github("github-push.json", watched=twins)
    assert verdict.services == ("hello", "hello-2")
    assert len({e["id"] for e in verdict.events}) == 2


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "garbage"])
def test_bad_signature_is_401_and_never_echoes_the_secret(signature: str) -> None:
    verdict = github("github-push.json", signature=signature)
    assert (verdict.status, verdict.outcome, verdict.events) == (401, "rejected", ())
    assert GITHUB_SECRET not in verdict.reason


def test_signature_with_wrong_secret_is_401() -> None:
    assert github("github-push.json", secret="guess").status == 401


def test_without_any_secret_configured_nothing_verifies() -> None:
    watched = [WatchedRepo("hello", HELLO_WORLD_REPO, "master", None)]
    verdict = github("github-push.json", watched=watched, forge_secret=None)
    assert verdict.status == 401
    assert "no github webhook secret" in verdict.reason


def test_service_override_secret_is_required_for_that_service() -> None:
    watched = [WatchedRepo("hello", HELLO_WORLD_REPO, "master", "service-own-secret")]
    assert github("github-push.json", watched=watched).status == 401
    accepted = github("github-push.json", watched=watched, secret="service-own-secret")
    assert accepted.services == ("hello",)


def test_push_signed_for_the_other_branch_service_does_not_act() -> None:
    watched = [
        WatchedRepo("hello", HELLO_WORLD_REPO, "master", "secret-a"),
        WatchedRepo("hello-dev", HELLO_WORLD_REPO, "develop", "secret-b"),
    ]
    verdict = github("github-push.json", watched=watched, secret="secret-b")
    assert (verdict.status, verdict.events) == (401, ())


def test_gitlab_push_is_accepted_with_the_token() -> None:
    verdict = gitlab("gitlab-push.json")
    assert (verdict.status, verdict.services) == (202, ("diaspora",))
    assert verdict.events[0]["payload"]["pusher"] == "jsmith"


def test_gitlab_wrong_token_is_401() -> None:
    assert gitlab("gitlab-push.json", token="nope").status == 401


def test_gitlab_tag_push_hook_and_deletion_are_ignored() -> None:
    assert gitlab("gitlab-tag-push.json", event="Tag Push Hook").outcome == "ignored"
    assert gitlab("gitlab-push-branch-delete.json").outcome == "ignored"


def test_gitlab_new_branch_not_monitored() -> None:
    verdict = gitlab("gitlab-push-new-branch.json")
    assert verdict.outcome == "ignored" and "feature/new-branch" in verdict.reason


def test_malformed_json_with_valid_signature_is_400_and_unsigned_is_401() -> None:
    body = b'{"ref": '
    signed = Delivery(
        "github", "push", "x", "application/json", body, github_signature(GITHUB_SECRET, body)
    )
    unsigned = Delivery("github", "push", "x", "application/json", body, None)
    assert (
        judge_delivery(signed, WATCHED_GITHUB, forge_secret=GITHUB_SECRET, occurred=NOW).status
        == 400
    )
    assert (
        judge_delivery(unsigned, WATCHED_GITHUB, forge_secret=GITHUB_SECRET, occurred=NOW).status
        == 401
    )


def test_unsupported_content_type_is_415() -> None:
    body = payload_bytes("github-push.json")
    delivery = Delivery(
        "github", "push", "x", "text/xml", body, github_signature(GITHUB_SECRET, body)
    )
    assert (
        judge_delivery(delivery, WATCHED_GITHUB, forge_secret=GITHUB_SECRET, occurred=NOW).status
        == 415
    )


def test_missing_event_header_is_400() -> None:
    assert github("github-push.json", event="").status == 400


def test_delivery_key_falls_back_to_the_body_hash() -> None:
    assert (
        delivery_key("72d3162e-cc78-11e3-81ab-4c9367dc0958", b"x")
        == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    )
    assert delivery_key(None, b"x") == delivery_key("bad id with spaces", b"x")
    assert delivery_key(None, b"x").startswith("sha256-")
    assert delivery_key("a" * 500, b"x") != delivery_key("a" * 500, b"y")


@given(
    body=st.binary(max_size=2000),
    event=st.sampled_from(["push", "ping", "issues", "", "Push Hook"]),
    credential=st.none() | st.text(max_size=80),
    forge=st.sampled_from(["github", "gitlab"]),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain"]
    ),
)
def test_unsigned_input_never_produces_an_event(
    body: bytes, event: str, credential: str | None, forge: str, content_type: str
) -> None:
    delivery = Delivery(forge, event, None, content_type, body, credential)  # type: ignore[arg-type]
    verdict = judge_delivery(
        delivery, WATCHED_GITHUB + WATCHED_GITLAB, forge_secret="the-real-secret", occurred=NOW
    )
    assert verdict.events == ()
    assert verdict.status in (401, 415)


@given(st.binary(max_size=3000))
def test_signed_arbitrary_bodies_never_crash(body: bytes) -> None:
    delivery = Delivery(
        "github", "push", None, "application/json", body, github_signature(GITHUB_SECRET, body)
    )
    verdict = judge_delivery(delivery, WATCHED_GITHUB, forge_secret=GITHUB_SECRET, occurred=NOW)
    assert verdict.status < 500
