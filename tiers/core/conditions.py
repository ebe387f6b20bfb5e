"""Per-tier conditions written in the ruleset: ``qualify`` (entry) and ``maintain`` (keep).

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

from tiers.core.errors import Problem, RulesetError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.core.loader import LoadedRuleset
    from tiers.core.metrics import MetricSpec
    from tiers.core.ruleset import Ruleset
    from tiers.core.yamlmap import LineMap

CANDIDATE_ID = "qualify"
KINDS = ("qualify", "maintain")


def has_conditions(model: Ruleset, kind: str = "qualify") -> bool:
    return any(getattr(t, kind) for t in model.tiers)


def _problem(file: str, lines: LineMap, index: int, kind: str, exc: Any) -> Problem:
    from tiers.core.yamlmap import render_path

    loc = ("tiers", index, kind)
    return Problem(f"{kind} condition: {exc.describe()}\n    {exc.pointer()}",
                   file=lines.file(loc, file), line=lines.line(loc), path=render_path(loc),
                   hint=exc.hint)


def check_conditions(model: Ruleset, file: str, lines: LineMap) -> tuple[list[Problem],
                                                                          list[MetricSpec]]:
    """Syntax-check every condition; return the problems and the metrics they read."""
    from tiers.core.expressions import ExpressionError, parse_expression
    from tiers.core.metrics import available_metrics, resolve_metric

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
                problems.append(_problem(file, lines, i, kind, exc))
                continue
            # names that are not metrics may be customer attributes; checked when data loads
            for name in parsed.name_list():
                if name in known:
                    spec = resolve_metric(model, name)
                    if spec not in specs:
                        specs.append(spec)
    return problems, specs


def compile_conditions(loaded: LoadedRuleset, table: ir.Table, kind: str,
                       ) -> dict[int, ir.BooleanValue]:
    """ladder index -> condition for every tier with a ``kind`` condition."""
    out: dict[int, ir.BooleanValue] = {}
    for i, tier in enumerate(loaded.model.tiers):
        src = getattr(tier, kind)
        if not src:
            continue
        from tiers.core.expressions import ExpressionError, compile_expression

        try:
            out[i] = compile_expression(src, table)
        except ExpressionError as exc:
            raise RulesetError([_problem(str(loaded.file), loaded.lines, i, kind, exc)]) from None
    return out


def highest_true(conditions: dict[int, ir.BooleanValue]) -> ir.IntegerValue:
    """The highest ladder index whose condition holds, NULL when none does."""
    import ibis

    if not conditions:
        return ibis.null("int8")
    branches = [(cond.fill_null(False), rank) for rank, cond in sorted(conditions.items(),
                                                                       reverse=True)]
    return ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")


def maintained_rank(conditions: dict[int, ir.BooleanValue],
                    prev_rank: ir.IntegerValue) -> ir.IntegerValue:
    """The highest tier kept by its maintenance condition, for customers who held it or higher
    before; NULL when none applies."""
    import ibis

    if not conditions:
        return ibis.null("int8")
    branches = [(cond.fill_null(False) & (prev_rank >= rank), rank)
                for rank, cond in sorted(conditions.items(), reverse=True)]
    return ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")
