"""Errors that reach the user as a clear message and an exit code, never a traceback."""

from __future__ import annotations


class BuildMonitorError(Exception):
    """An error with a message meant for the user."""

    exit_code = 2


class ConfigError(BuildMonitorError):
    """The configuration file is missing, unreadable or invalid."""


class InvalidInputError(BuildMonitorError):
    """A name, ref or argument from outside did not validate."""


class GitError(BuildMonitorError):
    """A git operation failed (unknown ref, unreachable remote...)."""


class InfrastructureError(BuildMonitorError):
    """The machinery failed rather than the commit: Docker down, disk full, OOM..."""
