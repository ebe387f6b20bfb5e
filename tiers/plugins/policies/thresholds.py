"""Shared logic of threshold policies: a metric compared to a minimum per tier."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers.core.errors import Problem, did_you_mean
from tiers.core.interfaces import ComponentConfig, Policy
from tiers.core.metrics import MetricSpec
from tiers.core.numbers import NonNegative
from tiers.core.windows import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir


class ThresholdConfig(ComponentConfig):
    thresholds: dict[str, NonNegative] = Field(
        min_length=1,
        description="tier id -> minimum value (inclusive) to qualify for that tier",
    )
    window: Window | None = Field(default=None, description="defaults to the ruleset's window")


class ThresholdPolicy(Policy):
    """Grants the highest tier whose minimum the metric reaches; NULL below every minimum."""

    Config: ClassVar[type[ThresholdConfig]] = ThresholdConfig
    metric_name: ClassVar[str] = "spend"

    @property
    def measure(self) -> str:
        return self.metric_name

    def metrics(self) -> list[MetricSpec]:
        return [self.context.metric(self.measure, self.config.window)]

    def ladder(self) -> list[tuple[int, str, float]]:
        """(rank, tier id, minimum) for each tier with a threshold, lowest first."""
        order = self.context.ruleset.tier_ids()
        items = [(order.index(t), t, v) for t, v in self.config.thresholds.items() if t in order]
        return sorted(items)

    def check(self) -> list[Problem]:
        problems = []
        tier_ids = self.context.ruleset.tier_ids()
        for tier_id in self.config.thresholds:
            if tier_id not in tier_ids:
                problems.append(self.context.problem(
                    f"tier {tier_id!r} is referenced but not defined under `tiers:`",
                    "thresholds", tier_id,
                    hint=f"{did_you_mean(tier_id, tier_ids)}defined tiers: {', '.join(tier_ids)}"))
        ladder = self.ladder()
        for (_, low_id, low), (_, high_id, high) in pairwise(ladder):
            if high <= low:
                problems.append(self.context.problem(
                    f"thresholds must increase along the ladder: {high_id} ({high:g}) is not "
                    f"above {low_id} ({low:g})", "thresholds", high_id,
                    hint="tiers are listed lowest first; raise the higher tier's threshold "
                         "or reorder `tiers:`"))
        return problems

    def rank(self, table: ir.Table) -> ir.IntegerValue:
        import ibis

        column = table[self.metrics()[0].column]
        branches = [(column >= value, rank) for rank, _, value in reversed(self.ladder())]
        return ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")

    def explain(self, row: dict[str, Any]) -> list[str]:
        spec = self.metrics()[0]
        value = row.get(spec.column)
        lines = []
        for _, tier_id, minimum in self.ladder():
            ok = value is not None and float(value) >= minimum
            lines.append(f"{spec.column} {value} {'>=' if ok else '<'} {minimum:g} for {tier_id}")
        return lines
