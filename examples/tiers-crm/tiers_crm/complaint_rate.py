"""`complaint_rate`: caps the tier of customers who complain a lot for what they buy.

The rate is complaints per order over the window (complaints / max(orders, 1)). ``ceilings``
gives, per tier, the highest rate allowed for that tier and every tier above it: a customer
whose rate is above a tier's ceiling is held just below that tier. Combine it with the ruleset's
other policies using ``combine: all`` (every policy must agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers import ComponentConfig, Policy, Problem, Window, hookimpl
from tiers.core.errors import did_you_mean

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.core.metrics import MetricSpec


class ComplaintRateConfig(ComponentConfig):
    complaints: str = Field(
        default="complaints",
        description="the metric counting complaints, declared under `metrics:` "
                    "(e.g. {id: complaints, table: cases, agg: count})")
    orders: str = Field(default="orders", description="the metric counting orders")
    ceilings: dict[str, float] = Field(
        min_length=1, description="tier id -> highest complaints-per-order rate allowed")
    window: Window | None = Field(default=None, description="defaults to the ruleset's window")


class ComplaintRatePolicy(Policy):
    name = "complaint_rate"
    description = "hold customers below a tier when their complaints per order exceed its ceiling"
    Config: ClassVar[type[ComplaintRateConfig]] = ComplaintRateConfig

    def metrics(self) -> list[MetricSpec]:
        return [self.context.metric(self.config.complaints, self.config.window),
                self.context.metric(self.config.orders, self.config.window)]

    def ceilings(self) -> list[tuple[int, str, float]]:
        """(rank, tier id, ceiling), lowest tier first."""
        order = self.context.ruleset.tier_ids()
        return sorted((order.index(t), t, c) for t, c in self.config.ceilings.items()
                      if t in order)

    def check(self) -> list[Problem]:
        tier_ids = self.context.ruleset.tier_ids()
        problems = []
        for tier, ceiling in self.config.ceilings.items():
            if tier not in tier_ids:
                problems.append(self.context.problem(
                    f"tier {tier!r} is not defined under `tiers:`", "ceilings", tier,
                    hint=f"{did_you_mean(tier, tier_ids)}defined tiers: {', '.join(tier_ids)}"))
            elif ceiling < 0:
                problems.append(self.context.problem(
                    f"a complaint rate cannot be negative (got {ceiling:g})", "ceilings", tier,
                    hint="use 0 to allow no complaints at all"))
        return problems

    def rate(self, table: ir.Table) -> ir.FloatingValue:
        import ibis

        complaints, orders = (table[s.column] for s in self.metrics())
        return (complaints.fill_null(0).cast("float64")
                / ibis.greatest(orders.fill_null(0), 1).cast("float64"))

    def rank(self, table: ir.Table) -> ir.IntegerValue:
        import ibis

        rate = self.rate(table)
        top = len(self.context.ruleset.tier_ids()) - 1
        # lowest tier first: the first ceiling broken decides how far the customer is held
        branches = [(rate > ceiling, max(rank - 1, 0)) for rank, _, ceiling in self.ceilings()]
        return ibis.cases(*branches, else_=top).cast("int8")

    def explain(self, row: dict[str, Any]) -> list[str]:
        complaints, orders = (row.get(s.column) or 0 for s in self.metrics())
        rate = complaints / max(orders, 1)
        lines = [f"complaint rate {rate:.3g} ({complaints} complaints / {orders} orders)"]
        for _, tier, ceiling in self.ceilings():
            ok = rate <= ceiling
            lines.append(f"{'<=' if ok else '>'} {ceiling:g} allowed for {tier}"
                         + ("" if ok else f": held below {tier}"))
            if not ok:
                break
        return lines


@hookimpl
def register_policies(register: Any) -> None:
    register(ComplaintRatePolicy)
