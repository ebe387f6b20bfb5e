"""Load-time checks of the per-tier conditions written in the ruleset: ``qualify`` (entry)
and ``maintain`` (keep).

```yaml
tiers:
  - id: gold
    qualify: "spend >= 5000 or segments >= 30"    # airline-style OR rule
    maintain: "spend >= 4000 or segments >= 24"   # easier to keep than to get
```

``qualify`` conditions act together as one more candidate next to the policies (its rank column
is ``rank_qualify``): the highest tier whose condition holds, NULL when none does.
``maintain`` conditions only count for customers whose previous tier is that tier or higher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiers.core.errors import Problem
from tiers.core.expressions import ExpressionError, parse_expression
from tiers.core.locations import render_path
from tiers.ruleset.metrics import available_metrics, resolve_metric

if TYPE_CHECKING:
    from tiers.core.locations import LineMap
    from tiers.core.metrics import MetricSpec
    from tiers.ruleset.models import Ruleset

CANDIDATE_ID = "qualify"
KINDS = ("qualify", "maintain")


def has_conditions(model: Ruleset, kind: str = "qualify") -> bool:
    return any(getattr(t, kind) for t in model.tiers)


def condition_problem(file: str, lines: LineMap, index: int, kind: str, exc: Any) -> Problem:

    loc = ("tiers", index, kind)
    return Problem(f"{kind} condition: {exc.describe()}\n    {exc.pointer()}",
                   file=lines.file(loc, file), line=lines.line(loc), path=render_path(loc),
                   hint=exc.hint)


def check_conditions(model: Ruleset, file: str, lines: LineMap) -> tuple[list[Problem],
                                                                          list[MetricSpec]]:
    """Syntax-check every condition; return the problems and the metrics they read."""

    problems: list[Problem] = []
    specs: list[MetricSpec] = []
    known = available_metrics(model)
    for i, tier in enumerate(model.tiers):
        for kind in KINDS:
            src = getattr(tier, kind)
            if not src:
                continue
            try:
                parsed = parse_expression(src)
            except ExpressionError as exc:
                problems.append(condition_problem(file, lines, i, kind, exc))
                continue
            # names that are not metrics may be customer attributes; checked when data loads
            for name in parsed.name_list():
                if name in known:
                    spec = resolve_metric(model, name)
                    if spec not in specs:
                        specs.append(spec)
    return problems, specs
