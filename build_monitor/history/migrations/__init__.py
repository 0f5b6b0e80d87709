"""Alembic migrations of the history database (run in code by build_monitor.history.schema)."""
