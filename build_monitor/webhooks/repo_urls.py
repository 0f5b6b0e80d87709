"""One canonical spelling per repository, so a push can be matched to a service whichever URL
form (https, ssh, scp-like, git://, web page, local path) either side uses."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote, urlsplit

_SCP_LIKE = re.compile(r"^(?:[^@/:\s]+@)?(?P<host>[^@/:\s]+):(?P<path>.*)$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def normalize_repo_url(url: str) -> str:
    """`https://GitHub.com/Owner/Repo.git`, `git@github.com:owner/repo` and
    `ssh://git@github.com:22/owner/repo/` all become `github.com/owner/repo`; credentials, ports
    and the `.git` suffix are dropped and remote URLs are case-folded. A local path stays a
    normalized absolute-or-relative path (case kept), without a trailing `/.git` or `.git`."""
    text = url.strip()
    if not text:
        return ""
    if text.lower().startswith("file://"):
        return _normalize_local(unquote(urlsplit(text).path))
    if "://" in text:
        parts = urlsplit(text)
        try:
            host = parts.hostname or ""
        except ValueError:
            host = ""
        return _join_remote(host, unquote(parts.path))
    scp = _SCP_LIKE.match(text)
    if scp and not _WINDOWS_DRIVE.match(text):
        return _join_remote(scp.group("host"), scp.group("path"))
    return _normalize_local(text)


def _join_remote(host: str, path: str) -> str:
    cleaned = _strip_git_suffix(re.sub(r"/+", "/", path).strip("/"))
    return f"{host}/{cleaned}".lower().strip("/")


def _normalize_local(path: str) -> str:
    if not path:
        return ""
    normalized = posixpath.normpath(path)
    if normalized.endswith("/.git"):
        normalized = normalized[: -len("/.git")] or "/"
    return _strip_git_suffix(normalized) if normalized not in ("/", ".git") else normalized


def _strip_git_suffix(path: str) -> str:
    stripped = path.removesuffix(".git")
    return stripped.rstrip("/") if stripped else path


def same_repository(a: str, b: str) -> bool:
    left, right = normalize_repo_url(a), normalize_repo_url(b)
    return bool(left) and left == right
