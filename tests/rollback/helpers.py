"""Shared helpers of the rollback tests: configs with a [services.rollback] table, the CLI,
the live port, and recorded builds."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import BuildCreate, BuildStatus
from build_monitor.sample.service import SampleRepo
from tests.configs import _toml_value, service_table, write_config


def rollback_config(
    directory: Path,
    repo: SampleRepo | Path,
    *,
    name: str,
    builder: str,
    rust_image: str | None = None,
    rollback: dict[str, Any] | None = None,
    extra: str = "",
    branch: str = "main",
) -> Path:
    if isinstance(repo, Path):
        repo = SampleRepo(
            path=repo,
            branch=branch,
            commits=[],
            good=None,
            culprit=None,
            binary="sample-svc",
            expected_signature=None,
        )
    table = service_table(repo, name=name, builder=builder, rust_image=rust_image)
    if rollback:
        table += "\n[services.rollback]\n" + "".join(
            f"{key} = {_toml_value(value)}\n" for key, value in rollback.items()
        )
    return write_config(directory, table, extra=extra)


def run_cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"exit {result.exit_code}: {result.output}") from None
    return result.exit_code, document


def live_revision(port: int, timeout: float = 10) -> int | None:
    """The `revision` the service on 127.0.0.1:port reports, or None if nothing answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            if response.status_code == 200:
                return int(response.json()["revision"])
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def record_build(database_url: str, service: str, commit: str, status: BuildStatus) -> None:
    with session_scope(database_url) as session:
        crud.upsert_service(session=session, name=service, repo="-", branch="main")
        build = crud.start_build(
            session=session, build_in=BuildCreate(service=service, commit=commit, trigger="test")
        )
        assert build.id is not None
        crud.finish_build(
            session=session,
            build_id=build.id,
            status=status,
            stage=None if status is BuildStatus.passed else "health",  # type: ignore[arg-type]
            signature=None if status is BuildStatus.passed else "health: GET /health -> 500",
            log_excerpt=None,
            image=None,
            attempts=1,
        )
