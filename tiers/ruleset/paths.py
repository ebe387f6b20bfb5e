"""Load-time check that every path a ruleset derives stays in the ruleset's folder.

Outputs and files read on the ruleset's own account (exports, outbox, rejects, state,
templates, pins, rosters) must stay inside the folder of the file that wrote them. A source's
input `path:` may point elsewhere (e.g. `../data/orders.csv`): the user names the data
explicitly, and tiers only reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiers.core.errors import Problem
from tiers.core.locations import LineMap, Loc, render_path
from tiers.core.paths import outside_reason

ACTION_PATHS = ("export", "path", "outbox", "templates", "roster")
SOURCE_PATHS = ("rejects",)
TOP_PATHS = ("overrides", "state")
PLACEHOLDERS = {"action": "a", "as_of": "2000-01-01", "run": "1", "ruleset": "r"}


def _expand(value: str) -> str:
    try:
        return value.format(**PLACEHOLDERS)
    except (KeyError, IndexError, ValueError):
        return value


def derived_paths(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for key in TOP_PATHS:
        value = data.get(key)
        if isinstance(value, str) and "://" not in value:
            out.append(((key,), value))
    sources = data.get("sources")
    for role, spec in (sources.items() if isinstance(sources, dict) else []):
        if isinstance(spec, dict):
            out += [(("sources", role, k), spec[k]) for k in SOURCE_PATHS
                    if isinstance(spec.get(k), str)]
    actions = data.get("actions")
    for i, spec in enumerate(actions if isinstance(actions, list) else []):
        if isinstance(spec, dict):
            out += [(("actions", i, k), spec[k]) for k in ACTION_PATHS
                    if isinstance(spec.get(k), str)]
    return out


def check_paths(data: dict[str, Any], file: str, lines: LineMap) -> list[Problem]:
    problems = []
    for loc, value in derived_paths(data):
        wrote = lines.file(loc, file)
        why = outside_reason(Path(wrote).parent, _expand(value))
        if why is not None:
            problems.append(Problem(
                f"{why}: files a ruleset writes or keeps stay in its folder",
                file=wrote, line=lines.line(loc), path=render_path(loc),
                hint="use a path inside the ruleset's folder, e.g. `.tiers/...` or "
                     "`exports/...` (a symlink out of the folder does not count as inside); "
                     "copy files elsewhere after the run"))
    return problems
