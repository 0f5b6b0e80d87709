"""Writing config.toml files for tests, as a user would."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

from build_monitor.sample.service import SampleRepo

# Service names a test creates Docker things for carry this, so a user's own service (say
# `sample-svc`, the demo's) is never built, replaced, pruned or removed by the suite.
SESSION_TAG = uuid.uuid4().hex[:8]
_numbers = itertools.count()


def unique_service_name(prefix: str = "svc") -> str:
    """A service name no user has and no other test of this session uses."""
    return f"{prefix}-{SESSION_TAG}-{next(_numbers)}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_table(
    repo: SampleRepo,
    *,
    name: str = "svc",
    builder: str = "local",
    rust_image: str | None = None,
    health: bool = True,
    **extra: Any,
) -> str:
    fields: dict[str, Any] = {
        "name": name,
        "repo": str(repo.path),
        "branch": repo.branch,
        "builder": builder,
        "build_timeout_seconds": 300,
        "retries": 1,
        **extra,
    }
    if rust_image:
        fields["build_args"] = {"RUST_IMAGE": rust_image}
    lines = ["[[services]]"] + [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
    if health:
        lines += [
            "",
            "[services.health]",
            "port = 8000",
            'path = "/health"',
            "timeout_seconds = 20",
        ]
        if builder == "local":
            lines.append(f'command = "target/release/{repo.binary}"')
    return "\n".join(lines) + "\n"


def write_config(directory: Path, *service_tables: str, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(
        "[storage]\n"
        f'database_url = "sqlite:///{directory / "history.db"}"\n'
        f'cache_dir = "{directory / "cache"}"\n\n' + extra + "\n" + "\n".join(service_tables)
    )
    return path
