"""Progress of long work, on stderr: the stage a command is at (load sources, evaluate,
record, plan, apply N/M, write report) with the time spent so far.

Only for people watching a terminal: quiet when stderr is not a terminal (pipes, files, cron
logs), in CI (the ``CI`` variable), and with ``--format json`` or ``csv``. Stdout never gets a
byte of it, so tables and JSON stay clean."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def wanted(fmt: str = "table") -> bool:
    """Progress is for people watching a terminal: not in pipes, CI, nor for scripts."""
    return fmt == "table" and sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """Stages as a spinner, the apply step as a bar (N/M intents); nothing when disabled.

    The pipeline calls :meth:`stage` between its steps and ``start``/``advance``/``stop``
    around each action's intents (the ``tiers.actions.apply.Progress`` protocol)."""

    def __init__(self, enabled: bool | None = None, command: str = "tiers"):
        self.rich = wanted() if enabled is None else enabled
        self.command = command
        self._console: Any = None
        self._status: Any = None
        self._bar: Any = None
        self._task: Any = None

    def _stderr(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console

    def stage(self, name: str) -> None:
        """Show that the command is now at ``name``."""
        if not self.rich:
            return
        from rich.live import Live
        from rich.spinner import Spinner

        spinner = Spinner("dots", f"{self.command}: {name}")
        if self._status is None:
            self._status = Live(spinner, console=self._stderr(), transient=True,
                                refresh_per_second=12.5)
            self._status.start()
        # drawn at once: a stage may be over before the next refresh
        self._status.update(spinner, refresh=True)

    def start(self, label: str, total: int) -> None:
        if not self.rich:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        self._pause_status()
        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=self._stderr(), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(f"{self.command}: apply {label}", total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=n)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _pause_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        """Clear whatever is shown (before the result is printed)."""
        self.stop()
        self._pause_status()


@contextmanager
def progress(command: str, fmt: str = "table") -> Iterator[Progress]:
    """A :class:`Progress` for ``command``, cleared when the block ends, error or not."""
    p = Progress(enabled=wanted(fmt), command=command)
    try:
        yield p
    finally:
        p.close()
