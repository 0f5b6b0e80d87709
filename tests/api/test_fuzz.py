"""Hostile and random input at both webhook endpoints of a real server: never a 5xx, never an
event from unsigned input."""

from __future__ import annotations

import json
import string

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from build_monitor.api.background_server import running_server
from build_monitor.history.db import session_scope
from build_monitor.history.models import WebhookDelivery
from build_monitor.webhooks.signatures import github_signature
from tests.api.conftest import AppFactory, CountingEmitter
from tests.webhooks.fixtures import GITHUB_SECRET, PAYLOADS

FIXTURE_BODIES = [path.read_bytes() for path in sorted(PAYLOADS.glob("*.json"))]
# What an HTTP client can send as a header value: no control characters, no edge spaces.
header_text = st.text(alphabet=string.printable.strip() + " ", max_size=80).map(str.strip)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "",
            "application/json; charset=utf-8",
        ]
    )
    | header_text
)
bodies = (
    st.sampled_from(FIXTURE_BODIES)
    | st.binary(max_size=4096)
    | st.text(max_size=2000).map(str.encode)
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _json_value() -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=40),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=10,
    )


def stored_deliveries(app_factory_app: object) -> int:
    url = app_factory_app.state.ctx.database_url  # type: ignore[attr-defined]
    with session_scope(url) as session:
        return len(session.exec(select(WebhookDelivery)).all())


def test_unsigned_fuzz_never_errors_or_emits(
    app_factory: AppFactory, emitter: CountingEmitter
) -> None:
    app = app_factory()
    with running_server(app) as base_url, httpx.Client(base_url=base_url) as http:

        @FUZZ
        @given(
            path=st.sampled_from(["/api/webhooks/github", "/api/webhooks/gitlab"]),
            body=bodies,
            content_type=content_types,
            event=st.sampled_from(["push", "ping", "Push Hook", "Tag Push Hook"]) | header_text,
            credential=st.none() | header_text | st.just("sha256=" + "ab" * 32),
            delivery=st.none() | header_text,
        )
        def fuzz(
            path: str,
            body: bytes,
            content_type: str,
            event: str,
            credential: str | None,
            delivery: str | None,
        ) -> None:
            headers = {
                "Content-Type": content_type,
                "X-GitHub-Event": event,
                "X-Gitlab-Event": event,
            }
            if credential is not None:
                headers["X-Hub-Signature-256"] = credential
                headers["X-Gitlab-Token"] = credential
            if delivery is not None:
                headers["X-GitHub-Delivery"] = delivery
                headers["X-Gitlab-Event-UUID"] = delivery
            response = http.post(path, content=body, headers=headers)
            assert response.status_code in (401, 413, 415), response.text
            assert GITHUB_SECRET not in response.text

        fuzz()
    assert emitter.attempts == 0
    assert stored_deliveries(app) == 0


def test_signed_fuzz_never_errors(app_factory: AppFactory) -> None:
    app = app_factory()
    base = json.loads(FIXTURE_BODIES[0])
    with running_server(app) as base_url, httpx.Client(base_url=base_url) as http:

        @FUZZ
        @given(
            changes=st.dictionaries(
                st.sampled_from([*base.keys(), "extra"]), _json_value(), max_size=4
            ),
            event=st.sampled_from(["push", "ping", "create"]),
            content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded"]),
        )
        def fuzz(changes: dict[str, object], event: str, content_type: str) -> None:
            body = json.dumps(base | changes).encode()
            headers = {
                "Content-Type": content_type,
                "X-GitHub-Event": event,
                "X-Hub-Signature-256": github_signature(GITHUB_SECRET, body),
            }
            response = http.post("/api/webhooks/github", content=body, headers=headers)
            assert response.status_code < 500, response.text
            assert response.json()["reason"]

        fuzz()
