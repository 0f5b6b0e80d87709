"""`build-monitor db current` and `db upgrade`, as an operator runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.history import schema

runner = CliRunner()
BEFORE_CONFIG_KEY = Path(__file__).parent.parent / "data" / "history_before_config_key.sql"


def config_for(directory: Path, database_url: str) -> str:
    path = directory / "config.toml"
    path.write_text(f'[storage]\ndatabase_url = "{database_url}"\n')
    return str(path)


def run_json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def legacy_database(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    connection = sqlite3.connect(path)
    connection.executescript(BEFORE_CONFIG_KEY.read_text())
    connection.close()
    return path


def test_current_then_upgrade_then_current_on_a_database_from_before_config_key(
    tmp_path: Path, data_dir: Path
) -> None:
    path = legacy_database(tmp_path)
    config = config_for(tmp_path, f"sqlite:///{path}")
    head = schema.head_revision()

    before = run_json("db", "current", "--config", config)
    upgraded = run_json("db", "upgrade", "--config", config)
    after = run_json("db", "current", "--config", config)
    again = run_json("db", "upgrade", "--config", config)

    assert before == {
        "database": f"sqlite:///{path}",
        "exists": True,
        "current": None,
        "head": head,
        "up_to_date": False,
        "detected": "0001",
        "pending": schema.revisions()[1:],
    }
    assert upgraded == {
        "database": f"sqlite:///{path}",
        "from": None,
        "detected": "0001",
        "to": head,
        "applied": schema.revisions()[1:],
    }
    assert (after["current"], after["up_to_date"], after["pending"]) == (head, True, [])
    assert (again["from"], again["applied"]) == (head, [])
    assert sqlite3.connect(path).execute("SELECT count(*) FROM builds").fetchone() == (3,)


def test_current_changes_nothing(tmp_path: Path, data_dir: Path) -> None:
    path = legacy_database(tmp_path)
    config = config_for(tmp_path, f"sqlite:///{path}")
    missing = tmp_path / "new" / "history.db"

    result = runner.invoke(app, ["db", "current", "--config", config])
    (tmp_path / "other").mkdir()
    absent = run_json(
        "db", "current", "--config", config_for(tmp_path / "other", f"sqlite:///{missing}")
    )

    assert result.exit_code == 0
    assert "revision none (tables match 0001)" in result.stdout
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert schema.VERSION_TABLE not in tables and "rollbacks" not in tables
    assert (absent["exists"], absent["current"], absent["pending"]) == (
        False,
        None,
        schema.revisions(),
    )
    assert not missing.exists()


def test_upgrade_of_a_new_database_applies_every_revision(
    tmp_path: Path, data_dir: Path, database_url: str
) -> None:
    config = config_for(tmp_path, database_url)

    result = runner.invoke(app, ["db", "upgrade", "--config", config])

    assert result.exit_code == 0, result.output
    assert f"upgraded empty -> {schema.head_revision()}" in result.stdout
    assert run_json("db", "current", "--config", config)["up_to_date"] is True


def test_a_password_in_the_url_is_never_printed(
    tmp_path: Path, data_dir: Path, postgres_url: str
) -> None:
    url = postgres_url.replace("bm@", "bm:hunter2@")
    document = run_json("db", "current", "--config", config_for(tmp_path, url))
    assert "hunter2" not in json.dumps(document) and "***@" in str(document["database"])


def test_a_missing_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
