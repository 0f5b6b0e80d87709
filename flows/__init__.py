"""Prefect flows: monitor, check, bisect, rollback."""
