"""Why a rollback stopped, as types: the run picks its path by the exception's class."""

from __future__ import annotations


class RollbackRefused(Exception):
    """A gate or a check said no; nothing was changed."""


class RollbackStepFailed(Exception):
    """A step failed; what had changed was undone."""


class VerificationFailed(RollbackStepFailed):
    """The change was made but its verification failed; it was undone."""


class ServiceBusy(Exception):
    """Another rollback of the service holds its lock."""
