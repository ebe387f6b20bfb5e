"""Progress of long work: a rich bar on a terminal's stderr, a few plain lines otherwise (CI,
pipes)."""

from __future__ import annotations

import os
import sys
from typing import Any

from tiers.core.words import counted


def wanted() -> bool:
    """Progress is for people watching a terminal: not in pipes, nor in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """A rich bar on a terminal; a few plain lines otherwise (CI, pipes)."""

    def __init__(self, enabled: bool | None = None):
        if enabled is None:
            enabled = wanted()
        self.rich = enabled
        self._bar: Any = None
        self._task: Any = None
        self._total = 0
        self._done = 0
        self._next_line = 0
        self._label = ""

    def start(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, total, 0
        self._next_line = 0
        if self.rich:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), console=Console(stderr=True),
                                 transient=True)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)
        else:
            print(f"apply {label}: {counted(total, 'intent')}", file=sys.stderr)

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self.rich:
            self._bar.update(self._task, advance=n)
        elif self._total >= 1000 and self._done >= self._next_line:
            print(f"apply {self._label}: {self._done}/{self._total}", file=sys.stderr)
            self._next_line = self._done + max(self._total // 10, 1)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
