"""Alembic environment: always online, on the connection build_monitor.history.schema passes in
`config.attributes["connection"]` (that caller holds the migration lock and the transaction)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import MetaData
from sqlmodel.sql.sqltypes import AutoString

from build_monitor.history.models import UTCDateTime
from build_monitor.history.schema import VERSION_TABLE, target_metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """New revisions spell column types in plain SQLAlchemy, so a migration never depends on
    how the models are written today."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


config = context.config
connection = config.attributes["connection"]
metadata: MetaData = config.attributes.get("target_metadata") or target_metadata()
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=_render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
