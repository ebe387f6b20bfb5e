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

from typing import TYPE_CHECKING

from tiers.core.errors import RulesetError
from tiers.core.expressions import ExpressionError
from tiers.engine.expressions import compile_expression
from tiers.ruleset.conditions import condition_problem

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.ruleset.loader import LoadedRuleset


def compile_conditions(loaded: LoadedRuleset, table: ir.Table, kind: str,
                       ) -> dict[int, ir.BooleanValue]:
    """ladder index -> condition for every tier with a ``kind`` condition."""
    out: dict[int, ir.BooleanValue] = {}
    for i, tier in enumerate(loaded.model.tiers):
        src = getattr(tier, kind)
        if not src:
            continue
        try:
            out[i] = compile_expression(src, table)
        except ExpressionError as exc:
            problem = condition_problem(str(loaded.file), loaded.lines, i, kind, exc)
            raise RulesetError([problem]) from None
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
