from __future__ import annotations

import pytest
from pydantic import ValidationError

from build_monitor.api.config import ApiConfig
from build_monitor.webhooks.config import SecretRef, ServiceWebhooksConfig, WebhooksConfig


def test_references_by_env_or_block() -> None:
    config = WebhooksConfig.model_validate(
        {
            "github_secret": {"env": "GITHUB_WEBHOOK_SECRET"},
            "gitlab_token": {"block": "gitlab-webhook-token"},
            "max_body_bytes": 2048,
        }
    )
    assert config.github_secret == SecretRef(env="GITHUB_WEBHOOK_SECRET")
    assert config.gitlab_token is not None and config.gitlab_token.block == "gitlab-webhook-token"
    assert WebhooksConfig().max_body_bytes == 1024 * 1024
    assert ApiConfig().public_read is False


def test_an_inline_secret_is_refused_without_being_repeated() -> None:
    with pytest.raises(ValidationError) as caught:
        ServiceWebhooksConfig.model_validate({"github_secret": "hunter2-inline"})
    message = caught.value.errors()[0]["msg"]
    assert "never put the secret itself in the config file" in message
    assert "hunter2-inline" not in message


@pytest.mark.parametrize(
    "ref",
    [
        {},
        {"env": "A", "block": "b"},
        {"env": "1BAD"},
        {"env": "A B"},
        {"block": "Not_Valid"},
        {"env": "A", "extra": 1},
    ],
)
def test_bad_references(ref: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SecretRef.model_validate(ref)


def test_body_limit_bounds() -> None:
    with pytest.raises(ValidationError):
        WebhooksConfig(max_body_bytes=10)
    with pytest.raises(ValidationError):
        WebhooksConfig(max_body_bytes=100 * 1024 * 1024)
