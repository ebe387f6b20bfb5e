"""Metric names of a ruleset: the built-in order measures and the declared `metrics:`, each
resolved to the column the engine computes for a window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiers.core.metrics import ORDER_MEASURES, MetricSpec, UnknownMetric
from tiers.core.windows import Window

ORDER_TIME = "order_ts"

if TYPE_CHECKING:
    from tiers.ruleset.models import MetricDef, Ruleset


def available_metrics(ruleset: Ruleset) -> list[str]:
    return [*ORDER_MEASURES, *(m.id for m in ruleset.metrics)]


def resolve_metric(ruleset: Ruleset, measure: str, window: Window | None = None) -> MetricSpec:
    """Name the column for ``measure`` over ``window`` (the ruleset's window by default)."""
    declared = {m.id: m for m in ruleset.metrics}
    if measure in declared:
        return _declared_spec(ruleset, declared[measure], window)
    if measure not in ORDER_MEASURES:
        raise UnknownMetric(measure)
    windowed, default, _ = ORDER_MEASURES[measure]
    if not windowed:
        return MetricSpec(measure, measure, None, default=default)
    win = window or ruleset.window
    column = measure if win == ruleset.window else f"{measure}_{win.key}"
    return MetricSpec(column, measure, win, default=default)


def _declared_spec(ruleset: Ruleset, m: MetricDef, window: Window | None) -> MetricSpec:
    base = m.window or ruleset.window
    win = window or base
    column = m.id if win == base else f"{m.id}_{win.key}"
    # no rows: a count is 0 and a sum is 0; an average, minimum or maximum of nothing is blank
    counted = ("sum", "count", "count_distinct")
    default = m.default if m.default is not None else (0 if m.agg in counted else None)
    # the orders table's time column is `order_ts`; other tables default to `ts`
    time_column = ORDER_TIME if m.table == "orders" and m.time_column == "ts" else m.time_column
    return MetricSpec(column, m.id, win, table=m.table, agg=m.agg, source_column=m.column,
                      time_column=time_column, default=default)


def default_metrics(ruleset: Ruleset) -> list[MetricSpec]:
    """Metrics every run reports, whether or not a policy reads them."""
    names = ["spend", "orders", "avg_order_value", "recency_days", "tenure_days"]
    return [resolve_metric(ruleset, n) for n in names] + [
        resolve_metric(ruleset, m.id) for m in ruleset.metrics
    ]


class RulesetMetrics:
    """The metrics the components of one ruleset see
    (:class:`tiers.core.interfaces.MetricCatalog`)."""

    def __init__(self, ruleset: Ruleset):
        self.ruleset = ruleset

    def resolve(self, measure: str, window: Window | None = None) -> MetricSpec:
        return resolve_metric(self.ruleset, measure, window)

    def names(self) -> list[str]:
        return available_metrics(self.ruleset)
