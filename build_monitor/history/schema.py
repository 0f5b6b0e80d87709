"""The history database's schema version: Alembic migrations run in code (no alembic.ini), an
unstamped database from before the migrations recognised by what it holds, and upgrades
serialised across processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine

from build_monitor.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Not Alembic's default `alembic_version`: Prefect keeps its own there when both share a database.
VERSION_TABLE = "build_monitor_schema_version"
# Any constant: the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_UPGRADE_LOCK = 0x626D_6869_7374  # "bmhist"

HISTORY_TABLES = frozenset(
    {
        "services",
        "builds",
        "notifications",
        "webhook_deliveries",
        "bisections",
        "bisect_probes",
        "rollbacks",
        "rollback_steps",
        "test_results",
        "probe_claims",
    }
)


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    # For a database from before the migrations: the revision its tables match.
    detected: str | None = None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def pending(self) -> list[str]:
        return revisions_after(self.current or self.detected)


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None
    after: str
    # Set when the database had no version yet and was stamped at this revision first.
    detected: str | None = None

    @property
    def applied(self) -> list[str]:
        return revisions_after(self.detected or self.before) if self.before != self.after else []


def target_metadata() -> MetaData:
    from sqlmodel import SQLModel

    from build_monitor.history import models  # noqa: F401  (registers the tables)

    return SQLModel.metadata


def alembic_config(connection: Connection, metadata: MetaData | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    if metadata is not None:
        config.attributes["target_metadata"] = metadata
    return config


@cache
def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """Every revision, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def revisions_after(revision: str | None) -> list[str]:
    every = revisions()
    return every[every.index(revision) + 1 :] if revision else every


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _columns(connection: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns(table)}


def detect_revision(connection: Connection, where: str) -> str | None:
    """The revision an unstamped database's tables match (None: it holds no history tables).
    Such databases were made by `create_all` before the migrations existed."""
    tables = set(inspect(connection).get_table_names()) & HISTORY_TABLES
    if not tables:
        return None
    if tables == HISTORY_TABLES:
        return "0005"
    if tables == HISTORY_TABLES - {"probe_claims"}:
        return "0004"
    if tables == HISTORY_TABLES - {"test_results", "probe_claims"}:
        if "heartbeat_at" in _columns(connection, "bisections"):
            return "0003"
        if "config_key" in _columns(connection, "builds"):
            return "0002"
    elif tables == HISTORY_TABLES - {
        "rollbacks",
        "rollback_steps",
        "test_results",
        "probe_claims",
    } and ("config_key" not in _columns(connection, "builds")):
        return "0001"
    raise ConfigError(
        f"the history database {where} holds tables of no known build-monitor schema "
        f"({', '.join(sorted(tables))}): not changed"
    )


def status(engine: Engine, where: str) -> SchemaStatus:
    with engine.connect() as connection:
        current = current_revision(connection)
        detected = None if current else detect_revision(connection, where)
    return SchemaStatus(current=current, head=head_revision(), detected=detected)


@contextmanager
def _upgrade_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that only one process at a time holds, across the whole upgrade."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_UPGRADE_LOCK}
            )
        try:
            yield connection
            connection.commit()
        except BaseException:
            connection.rollback()
            raise


def upgrade(engine: Engine, where: str) -> UpgradeResult:
    """Bring the database to the head revision. Cheap when it is already there: one read, no
    lock."""
    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:
            return UpgradeResult(before=head, after=head)
    with _upgrade_transaction(engine) as connection:
        before = current_revision(connection)
        if before == head:
            return UpgradeResult(before=head, after=head)
        detected = None if before else detect_revision(connection, where)
        if before is None and detected is None:
            # A new database: the models' tables as they are, stamped at head (what the
            # migrations build too, as tests/history/test_migrations.py checks), much faster.
            target_metadata().create_all(connection)
            MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).stamp(
                _script(), head
            )
            return UpgradeResult(before=None, after=head)
        config = alembic_config(connection)
        if detected is not None:
            command.stamp(config, detected)
        command.upgrade(config, "head")
        return UpgradeResult(before=before, after=head, detected=detected)
