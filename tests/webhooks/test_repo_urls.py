from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_monitor.webhooks.repo_urls import normalize_repo_url, same_repository


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Codertocat/Hello-World.git",
        "https://github.com/Codertocat/Hello-World",
        "https://github.com/codertocat/hello-world/",
        "http://GITHUB.com/Codertocat/Hello-World.git",
        "https://user:token@github.com/Codertocat/Hello-World.git",
        "git@github.com:Codertocat/Hello-World.git",
        "github.com:Codertocat/Hello-World",
        "ssh://git@github.com/Codertocat/Hello-World.git",
        "ssh://git@github.com:22/Codertocat/Hello-World",
        "git://github.com/Codertocat/Hello-World.git",
        "  https://github.com//Codertocat/Hello-World.git  ",
    ],
)
def test_every_github_url_form_is_the_same_repository(url: str) -> None:
    assert normalize_repo_url(url) == "github.com/codertocat/hello-world"


def test_gitlab_ssh_on_another_port_matches_http() -> None:
    assert same_repository(
        "ssh://git@gitlab.example.com:2222/group/sub/proj.git",
        "https://gitlab.example.com/group/sub/proj",
    )


def test_different_repositories_differ() -> None:
    assert not same_repository("git@github.com:a/b.git", "git@github.com:a/c.git")
    assert not same_repository("git@github.com:a/b.git", "git@gitlab.com:a/b.git")
    assert not same_repository("https://github.com/a/b-extra", "https://github.com/a/b")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/srv/git/service", "/srv/git/service"),
        ("/srv/git/service/", "/srv/git/service"),
        ("/srv/git/service.git", "/srv/git/service"),
        ("/srv/git/service/.git", "/srv/git/service"),
        ("/srv/git/./x/../service", "/srv/git/service"),
        ("file:///srv/git/service.git", "/srv/git/service"),
        ("/srv/Git/Service", "/srv/Git/Service"),
    ],
)
def test_local_paths_normalize_and_keep_case(url: str, expected: str) -> None:
    assert normalize_repo_url(url) == expected


def test_empty_is_no_repository() -> None:
    assert normalize_repo_url("   ") == ""
    assert not same_repository("", "")


def test_windows_drive_is_a_local_path_not_a_host() -> None:
    assert normalize_repo_url("C:/repos/svc") == "C:/repos/svc"


_name = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True).filter(
    lambda s: not s.endswith(".git") and s not in (".", "..") and not s.endswith(".")
)
_host = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(com|org|io)", fullmatch=True)


@given(host=_host, owner=_name, repo=_name, suffix=st.sampled_from(["", ".git", "/"]))
def test_url_forms_agree(host: str, owner: str, repo: str, suffix: str) -> None:
    forms = [
        f"https://{host}/{owner}/{repo}{suffix}",
        f"git@{host}:{owner}/{repo}{suffix}",
        f"ssh://git@{host}:2222/{owner}/{repo}{suffix}",
        f"git://{host.upper()}/{owner}/{repo}{suffix}",
    ]
    assert len({normalize_repo_url(form) for form in forms}) == 1


@given(st.text())
def test_normalizing_is_total_and_idempotent(url: str) -> None:
    once = normalize_repo_url(url)
    assert normalize_repo_url(once) == once
