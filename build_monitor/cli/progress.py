"""Progress for long work: a rich spinner on a terminal, plain lines otherwise (on stderr, so
`--json` output stays clean)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

_console = Console(stderr=True, highlight=False)


def note(message: str) -> None:
    _console.print(message, markup=False)


@contextmanager
def step(message: str) -> Iterator[None]:
    if _console.is_terminal:
        with _console.status(message):
            yield
        _console.print(f"[green]✓[/green] {message}")
    else:
        _console.print(f"... {message}", markup=False)
        yield
