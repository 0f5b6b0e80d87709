"""Rollback: gates, plans and the live-container and revert mechanics (issue 3)."""
