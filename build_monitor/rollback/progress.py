"""A rollback journal that reports every step as it is journaled: the rollback's progress
artifact moves at each step (`RollbackRun(..., on_progress=...)`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from build_monitor.dashboard.render import StepState
from build_monitor.rollback.journal import JournaledStep, RollbackJournal

logger = logging.getLogger("build_monitor.rollback")

# Called with the steps journaled so far, in order (a step that runs has status `running`),
# and how many steps the plan has.
ProgressHook = Callable[[Sequence[StepState], int], None]


@dataclass(frozen=True)
class ReportingJournal(RollbackJournal):
    on_progress: ProgressHook | None = None
    planned: int = 0

    def report(self) -> None:
        """Tell the hook the steps so far; a hook that fails never stops the rollback."""
        if self.on_progress is None:
            return
        try:
            self.on_progress([StepState(s.name, s.status) for s in self.steps()], self.planned)
        except Exception as exc:
            logger.warning("rollback %d: progress not reported: %s", self.rollback_id, exc)

    @contextmanager
    def step(self, name: str, undo: dict[str, Any] | None = None) -> Iterator[JournaledStep]:
        with super().step(name, undo) as step:
            self.report()
            yield step

    def record(self, name: str, status: str, detail: str) -> None:
        super().record(name, status, detail)
        self.report()

    def end_step(
        self,
        step_id: int,
        status: str,
        detail: str | None = None,
        undo: dict[str, Any] | None = None,
    ) -> None:
        super().end_step(step_id, status, detail, undo)
        self.report()
