"""Exceptions, one per kind of user mistake; the CLI renders them without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from tiers.core import exits
from tiers.core.words import counted


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest option, or ``""``."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a ruleset or its inputs, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str | None = None
    hint: str | None = None

    def render(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        head = f"{where}: " if where else ""
        at = f"{self.path}: " if self.path else ""
        text = f"{head}{at}{self.message}"
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text


class TiersError(Exception):
    """Base class of every error tiers reports to a user."""

    exit_code = exits.FAILED

    def render(self) -> str:
        return str(self)


class RulesetError(TiersError):
    """A ruleset failed validation; carries every problem found, not just the first."""

    exit_code = exits.USAGE

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        lines = [f"{counted(n, 'problem')} found:"]
        lines += [p.render() for p in self.problems]
        return "\n".join(lines)


class PluginError(TiersError):
    """A plugin could not be loaded or registered."""

    exit_code = exits.PLUGIN


class DataError(TiersError):
    """Input data could not be used as the ruleset describes."""

    exit_code = exits.DATA


class UsageError(TiersError):
    """An option value tiers cannot use (a format, a date, a file type): the command line is
    invalid, as for the options the parser itself rejects."""

    exit_code = exits.USAGE


class CustomerNotFound(TiersError):
    """The customer id is not in the data, or has no recorded history."""

    exit_code = exits.NOT_FOUND
