"""History migrations: a database is upgraded on open, on SQLite and PostgreSQL; the models and
the migrations agree; databases of the released schema and of the schema before
`builds.config_key` (tests/data/*.sql, `sqlite3 .dump` output) keep every row."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import Engine

from build_monitor.errors import ConfigError
from build_monitor.history import bisections, crud, schema
from build_monitor.history.db import get_engine, session_scope
from build_monitor.history.models import BuildCreate

DATA = Path(__file__).parent.parent / "data"
RELEASED = DATA / "history_released.sql"
BEFORE_CONFIG_KEY = DATA / "history_before_config_key.sql"


def differences(engine: Engine, metadata: MetaData | None = None) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": schema.VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(context, metadata or schema.target_metadata()))


def load_dump(dump: Path, path: Path) -> str:
    connection = sqlite3.connect(path)
    connection.executescript(dump.read_text())
    connection.close()
    return f"sqlite:///{path}"


def _normalised(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def all_rows(engine: Engine, columns: dict[str, list[str]] | None = None) -> dict[str, list[Any]]:
    """Every row of every history table, ordered by primary key, in the given columns."""
    metadata = MetaData()
    metadata.reflect(engine, only=lambda name, _: name in schema.HISTORY_TABLES)
    rows: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        for name, table in metadata.tables.items():
            if columns is not None and name not in columns:
                continue
            names = (columns or {}).get(name) or [c.name for c in table.columns]
            statement = select(*(table.c[n] for n in names)).order_by(*table.primary_key.columns)
            rows[name] = [
                dict(zip(names, map(_normalised, row), strict=True))
                for row in connection.execute(statement)
            ]
    return rows


def column_names(engine: Engine) -> dict[str, list[str]]:
    inspector = inspect(engine)
    return {
        name: [c["name"] for c in inspector.get_columns(name)]
        for name in inspector.get_table_names()
        if name in schema.HISTORY_TABLES
    }


def test_the_migrations_build_exactly_the_schema_of_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "head")
    assert differences(engine) == []
    engine.dispose()


def test_a_new_database_is_created_at_the_head_revision(database_url: str) -> None:
    engine = get_engine(database_url)
    assert schema.status(engine, database_url).up_to_date
    assert set(inspect(engine).get_table_names()) >= schema.HISTORY_TABLES
    assert differences(engine) == []


def test_the_agreement_check_finds_a_column_the_migrations_lack(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'history.db'}")
    models = MetaData()
    for table in schema.target_metadata().tables.values():
        table.to_metadata(models)
    models.tables["builds"].append_column(Column("added_without_a_migration", Integer))
    found = differences(engine, models)
    assert [(d[0], d[3].name) for d in found] == [("add_column", "added_without_a_migration")]


def test_every_revision_downgrades_and_upgrades_again(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        config = schema.alembic_config(connection)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        assert not set(inspect(connection).get_table_names()) & schema.HISTORY_TABLES
        command.upgrade(config, "head")
    assert differences(engine) == []
    engine.dispose()


@pytest.mark.parametrize(
    ("dump", "detected"),
    [(RELEASED, "0002"), (BEFORE_CONFIG_KEY, "0001")],
    ids=["released", "before-config-key"],
)
def test_an_unstamped_sqlite_database_is_stamped_from_what_it_holds_and_keeps_every_row(
    tmp_path: Path, dump: Path, detected: str
) -> None:
    url = load_dump(dump, tmp_path / "history.db")
    before_engine = create_engine(url)
    old_columns = column_names(before_engine)
    before = all_rows(before_engine)
    before_engine.dispose()
    assert all(before[name] for name in old_columns), "the fixture has rows in every table"

    status = schema.status(create_engine(url), url)
    assert (status.current, status.detected) == (None, detected)
    engine = get_engine(url)

    assert schema.status(engine, url).current == schema.head_revision()
    assert differences(engine) == []
    assert all_rows(engine, old_columns) == before
    with session_scope(url) as session:
        builds = crud.list_builds(session=session, service="payments")
        assert [b.commit[0] for b in builds] == ["b", "a"]
        assert all(b.started_at.tzinfo is UTC for b in builds)
        assert builds[0].config_key == (
            None if detected == "0001" else "5f2b9c0e7d1a4b3c8e6f0a9d2c4b7e1f"
        )
        [confirmed] = [b for b in bisections.list_bisections(session=session, service="payments")]
        assert confirmed.culprit == "b" * 40 and confirmed.heartbeat_at is None
        new = crud.start_build(
            session=session,
            build_in=BuildCreate(service="payments", commit="f" * 40, config_key="k"),
        )
        assert new.id == 4


def test_a_released_postgresql_database_is_stamped_and_keeps_every_row(
    tmp_path: Path, new_postgres_database: Callable[[], str]
) -> None:
    """The released schema on PostgreSQL, as `create_all` left it (no version table), holding
    the rows of the SQLite fixture."""
    source = create_engine(load_dump(RELEASED, tmp_path / "released.db"))
    old_columns, before = column_names(source), all_rows(source)
    url = new_postgres_database()
    target = create_engine(url)
    with target.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "0002")
        connection.execute(text(f"DROP TABLE {schema.VERSION_TABLE}"))
    tables = MetaData()
    tables.reflect(target)
    with target.begin() as connection:
        for table in tables.sorted_tables:
            connection.execute(table.insert(), before[table.name])
    target.dispose()

    engine = get_engine(url)

    assert schema.status(engine, url).current == schema.head_revision()
    assert differences(engine) == []
    assert all_rows(engine, old_columns) == before


def test_concurrent_first_opens_upgrade_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    script = f"from build_monitor.history.db import get_engine\nget_engine({url!r})\n"
    processes = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert [p.wait() for p in processes] == [0, 0, 0, 0]
    engine = get_engine(url)
    with engine.connect() as connection:
        versions = connection.execute(text(f"SELECT * FROM {schema.VERSION_TABLE}")).all()
    assert versions == [(schema.head_revision(),)]


def test_a_database_of_unknown_tables_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE builds (id INTEGER PRIMARY KEY, what TEXT)")
    connection.close()
    with pytest.raises(ConfigError) as raised:
        get_engine(f"sqlite:///{path}")
    message = str(raised.value)
    assert str(path) in message and "no known build-monitor schema" in message
    assert "\n" not in message
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [
        ("builds",)
    ]
