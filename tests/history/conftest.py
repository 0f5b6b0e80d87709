"""The history tests run on a fresh SQLite file and on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    make: Callable[[], str] = request.getfixturevalue("new_postgres_database")
    return make()
