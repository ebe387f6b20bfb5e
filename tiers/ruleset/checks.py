"""Load-time checks of the tier semantics a ruleset declares: tier conditions, names the
engine reserves for its own columns, and the overrides file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tiers.core.errors import Problem
from tiers.core.locations import render_path
from tiers.core.record import RESULT_COLUMNS
from tiers.ruleset.conditions import CANDIDATE_ID, check_conditions
from tiers.ruleset.overrides import overrides_path, read_pins

if TYPE_CHECKING:
    from tiers.core.locations import LineMap, Loc
    from tiers.core.metrics import MetricSpec
    from tiers.ruleset.models import Ruleset


def check_semantics(model: Ruleset, file: str, lines: LineMap
                    ) -> tuple[list[Problem], list[MetricSpec]]:
    """Problems found, and the metrics tier conditions read (the engine must compute them)."""

    problems, specs = check_conditions(model, file, lines)

    def at(loc: Loc, msg: str, hint: str) -> None:
        problems.append(Problem(msg, file=lines.file(loc, file), line=lines.line(loc),
                                path=render_path(loc), hint=hint))

    for i, metric in enumerate(model.metrics):
        if metric.id in RESULT_COLUMNS:
            at(("metrics", i, "id"), f"metric id {metric.id!r} is a column the engine "
               "adds to every result", f"rename the metric, e.g. `{metric.id}_count`")
    if any(t.qualify for t in model.tiers):
        for i, policy in enumerate(model.policies):
            if (policy.id or policy.type) == CANDIDATE_ID:
                at(("policies", i), f"policy id {CANDIDATE_ID!r} is taken by the tiers' "
                   "`qualify:` conditions", "give the policy another `id:`")
    path = overrides_path(model, Path(file), lines)
    if path is not None:
        _, found = read_pins(path, model.tier_ids())
        if found and not path.is_file():
            at(("overrides",), found[0].message, found[0].hint or "")
        else:
            problems += found
    return problems, specs
