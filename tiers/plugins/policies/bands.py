"""`bands`: a metric mapped to tiers by ranges, e.g. satisfaction 80-89 / 90-94 / 95+."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from tiers.core.errors import Problem, did_you_mean
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig, Policy
from tiers.core.metrics import MetricSpec
from tiers.core.numbers import Finite, Positive
from tiers.core.windows import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir


class Band(ComponentConfig):
    tier: str = Field(description="tier id granted inside this range")
    min: Finite | None = Field(default=None, description="lower bound, inclusive")
    above: Finite | None = Field(default=None, description="lower bound, exclusive")
    max: Finite | None = Field(default=None, description="upper bound, inclusive")
    below: Finite | None = Field(default=None, description="upper bound, exclusive")

    @model_validator(mode="after")
    def _one_bound_each_side(self) -> Band:
        if self.min is not None and self.above is not None:
            raise ValueError("give `min` (inclusive) or `above` (exclusive), not both")
        if self.max is not None and self.below is not None:
            raise ValueError("give `max` (inclusive) or `below` (exclusive), not both")
        if self.lower[0] > self.upper[0] or (
                self.lower[0] == self.upper[0] and not (self.lower[1] and self.upper[1])):
            raise ValueError("the range is empty: its lower bound is above its upper bound")
        return self

    @property
    def lower(self) -> tuple[float, bool]:
        """(value, inclusive); -inf when open."""
        if self.min is not None:
            return self.min, True
        if self.above is not None:
            return self.above, False
        return -math.inf, False

    @property
    def upper(self) -> tuple[float, bool]:
        if self.max is not None:
            return self.max, True
        if self.below is not None:
            return self.below, False
        return math.inf, False

    def text(self) -> str:
        lo, lo_inc = self.lower
        hi, hi_inc = self.upper
        return f"{'[' if lo_inc else '('}{lo:g}, {hi:g}{']' if hi_inc else ')'}"


class BandsConfig(ComponentConfig):
    metric: str = Field(description="metric to read: built-in or declared under `metrics:`")
    bands: list[Band] = Field(min_length=1, description="ranges, each granting one tier")
    step: Positive | None = Field(
        default=None, gt=0,
        description="the metric's resolution for whole-number scores: with `step: 1`, "
                    "`max: 89` followed by `min: 90` leaves no gap")
    allow_gaps: bool = Field(default=False, description="accept values between bands "
                                                        "(they grant nothing)")
    window: Window | None = Field(default=None, description="defaults to the ruleset's window")


class BandsPolicy(Policy):
    name = "bands"
    description = "tier by the range a metric falls in, e.g. satisfaction 80-89 / 90-94 / 95+"
    Config: ClassVar[type[BandsConfig]] = BandsConfig

    def metrics(self) -> list[MetricSpec]:
        return [self.context.metric(self.config.metric, self.config.window)]

    def ordered(self) -> list[tuple[int, Band]]:
        """(index in the config, band), by lower bound."""
        return sorted(enumerate(self.config.bands), key=lambda ib: (ib[1].lower[0],
                                                                     not ib[1].lower[1]))

    def check(self) -> list[Problem]:
        ctx = self.context
        tier_ids = ctx.ruleset.tier_ids()
        problems = []
        for i, band in enumerate(self.config.bands):
            if band.tier not in tier_ids:
                problems.append(ctx.problem(
                    f"tier {band.tier!r} is referenced but not defined under `tiers:`",
                    "bands", i, "tier",
                    hint=f"{did_you_mean(band.tier, tier_ids)}defined tiers: "
                         f"{', '.join(tier_ids)}"))
        step = self.config.step
        for (_, a), (j, b) in pairwise(self.ordered()):
            (u, u_inc), (lo, l_inc) = a.upper, b.lower
            if u > lo or (u == lo and u_inc and l_inc):
                problems.append(ctx.problem(
                    f"bands overlap: {a.text()} ({a.tier}) and {b.text()} ({b.tier})",
                    "bands", j,
                    hint="make each value fall in one band: use `below:` for an exclusive "
                         "upper bound, e.g. {min: 80, below: 90} then {min: 90}"))
                continue
            contiguous = (u == lo) or (step is not None and u_inc and l_inc
                                       and math.isclose(lo - u, step))
            if not contiguous and not self.config.allow_gaps:
                gap = f"{'[' if not u_inc else '('}{u:g}, {lo:g}{']' if not l_inc else ')'}"
                problems.append(ctx.problem(
                    f"gap between bands {a.text()} ({a.tier}) and {b.text()} ({b.tier}): "
                    f"values in {gap} would get no tier from this policy", "bands", j,
                    hint="close the gap (e.g. `below: 90` then `min: 90`), set `step: 1` for "
                         "whole-number scores, or `allow_gaps: true` if it is intended"))
        return problems

    def condition(self, column: ir.NumericValue, band: Band) -> ir.BooleanValue:
        import ibis

        conds = []
        lo, lo_inc = band.lower
        hi, hi_inc = band.upper
        if lo != -math.inf:
            conds.append(column >= lo if lo_inc else column > lo)
        if hi != math.inf:
            conds.append(column <= hi if hi_inc else column < hi)
        return ibis.and_(*conds) if conds else column.notnull()

    def rank(self, table: ir.Table) -> ir.IntegerValue:
        import ibis

        order = self.context.ruleset.tier_ids()
        column = table[self.metrics()[0].column]
        branches = [(self.condition(column, band), order.index(band.tier))
                    for band in self.config.bands]
        # a missing value (no survey answered) matches no branch: the policy grants nothing
        return ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")

    def explain(self, row: dict[str, Any]) -> list[str]:
        column = self.metrics()[0].column
        value = row.get(column)
        if value is None:
            return [f"{column} is missing: no band applies"]
        lines = []
        for band in self.config.bands:
            lo, lo_inc = band.lower
            hi, hi_inc = band.upper
            v = float(value)
            inside = (v >= lo if lo_inc else v > lo) and (v <= hi if hi_inc else v < hi)
            lines.append(f"{column} {value} {'in' if inside else 'not in'} {band.text()} "
                         f"for {band.tier}")
        return lines


@hookimpl
def register_policies(register: Any) -> None:
    register(BandsPolicy)
