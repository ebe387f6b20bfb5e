"""`rfm`: recency, frequency and monetary scores 1-5 and named segments by score ranges."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from tiers.core.errors import Problem
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig, Policy
from tiers.core.metrics import MetricSpec
from tiers.core.numbers import NonNegative
from tiers.core.windows import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir

Score = int | tuple[int, int]
LETTERS = ("r", "f", "m")


class SegmentRule(ComponentConfig):
    """Score ranges a segment needs; a missing letter accepts any score."""

    r: Score | None = None
    f: Score | None = None
    m: Score | None = None

    @field_validator("r", "f", "m", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        if isinstance(value, str) and "-" in value:
            lo, _, hi = value.partition("-")
            value = [lo.strip(), hi.strip()]
        if isinstance(value, list):
            if len(value) != 2:
                raise ValueError("a score range is [low, high], e.g. [4, 5] or '4-5'")
            value = tuple(int(v) for v in value)
            if not 1 <= value[0] <= value[1] <= 5:
                raise ValueError("scores run from 1 to 5, low first")
        elif value is not None and not 1 <= int(value) <= 5:
            raise ValueError("scores run from 1 to 5")
        return value

    def bounds(self, letter: str) -> tuple[int, int] | None:
        value = getattr(self, letter)
        if value is None:
            return None
        return value if isinstance(value, tuple) else (int(value), int(value))


class Edges(ComponentConfig):
    """Four cut points per score; ``recency`` in days (fewer days scores higher)."""

    recency: list[NonNegative] | None = Field(default=None, min_length=4, max_length=4)
    frequency: list[NonNegative] | None = Field(default=None, min_length=4, max_length=4)
    monetary: list[NonNegative] | None = Field(default=None, min_length=4, max_length=4)


DEFAULT_SEGMENTS: dict[str, dict[str, Any]] = {
    "Champions": {"r": [4, 5], "f": [4, 5], "m": [4, 5]},
    "Loyal": {"r": [3, 5], "f": [4, 5]},
    "Potential Loyalist": {"r": [4, 5], "f": [2, 3]},
    "New Customers": {"r": 5, "f": 1},
    "At Risk": {"r": [1, 2], "f": [3, 5]},
    "Hibernating": {"r": 2, "f": [1, 2]},
    "Lost": {"r": 1, "f": [1, 2]},
}


class RfmConfig(ComponentConfig):
    method: Literal["quintiles", "edges"] = Field(
        default="quintiles", description="scores by equal-sized quintiles or fixed `edges`")
    edges: Edges | None = Field(default=None, description="cut points for `method: edges`")
    segments: dict[str, SegmentRule] = Field(
        default_factory=lambda: {k: SegmentRule.model_validate(v)
                                 for k, v in DEFAULT_SEGMENTS.items()},
        description="label -> score ranges; the first matching label wins")
    others: str | None = Field(default="Others", description="label for scored customers no "
                                                             "segment matches; null for none")
    window: Window | None = Field(default=None, description="window of frequency and monetary")


class RfmPolicy(Policy):
    name = "rfm"
    description = "recency/frequency/monetary scores 1-5 and named segments (Champions, ...)"
    Config: ClassVar[type[RfmConfig]] = RfmConfig
    output = "segment"

    def col(self, suffix: str) -> str:
        return f"{self.id}_{suffix}"

    def reads_population(self) -> bool:
        return self.config.method == "quintiles"

    def metrics(self) -> list[MetricSpec]:
        w = self.config.window
        return [self.context.metric("recency_days"), self.context.metric("orders", w),
                self.context.metric("spend", w)]

    def check(self) -> list[Problem]:
        problems = []
        edges = self.config.edges
        if self.config.method == "edges":
            if edges is None or None in (edges.recency, edges.frequency, edges.monetary):
                problems.append(self.context.problem(
                    "`method: edges` needs four cut points for each of recency, frequency "
                    "and monetary", "edges",
                    hint="e.g. edges: {recency: [30, 90, 180, 365], frequency: [2, 3, 5, 8], "
                         "monetary: [100, 300, 800, 2000]}"))
            else:
                for name in ("recency", "frequency", "monetary"):
                    cuts = getattr(edges, name)
                    if any(b <= a for a, b in pairwise(cuts)):
                        problems.append(self.context.problem(
                            f"{name} edges must increase: {cuts}", "edges", name))
        elif edges is not None:
            problems.append(self.context.problem(
                "`edges` only apply with `method: edges`", "edges",
                hint="add `method: edges` or remove `edges`"))
        return problems

    def _scores(self, table: ir.Table) -> dict[str, ir.Value]:
        import ibis

        rec, orders, spend = (table[s.column] for s in self.metrics())
        scored = table.lifetime_orders > 0  # customers who never ordered get no scores
        if self.config.method == "edges":
            e = self.config.edges
            assert e is not None
            r = 1 + sum((rec < c).cast("int8") for c in e.recency)  # type: ignore[union-attr]
            f = 1 + sum((orders >= c).cast("int8") for c in e.frequency)  # type: ignore
            m = 1 + sum((spend >= c).cast("int8") for c in e.monetary)  # type: ignore
        else:
            # ntile is 0-based; customer_id breaks ties so every backend splits them alike.
            # The scored customers form their own partition so the others don't shift buckets.
            def q(*order: Any) -> ir.Value:
                return ibis.ntile(5).over(group_by=scored,
                                          order_by=[*order, table.customer_id]) + 1
            r = q(ibis.desc(rec))
            f = q(orders)
            m = q(spend)
        null = ibis.null("int8")
        return {self.col(k): ibis.ifelse(scored, v.cast("int8"), null)
                for k, v in zip(LETTERS, (r, f, m), strict=True)}

    def columns(self, table: ir.Table) -> dict[str, ir.Value]:
        return self._scores(table)

    def _matches(self, table: ir.Table, rule: SegmentRule) -> ir.BooleanValue:
        import ibis

        conds = [table[self.col("r")].notnull()]
        for letter in LETTERS:
            b = rule.bounds(letter)
            if b is not None:
                conds.append(table[self.col(letter)].between(*b))
        return ibis.and_(*conds)

    def segments(self, table: ir.Table) -> dict[str, ir.BooleanValue]:
        import ibis

        out: dict[str, ir.BooleanValue] = {}
        taken: ir.BooleanValue = ibis.literal(False)
        for label, rule in self.config.segments.items():
            cond = self._matches(table, rule).fill_null(False)
            out[label] = cond & ~taken  # first matching label wins: segments don't overlap
            taken = taken | cond
        if self.config.others:
            out[self.config.others] = table[self.col("r")].notnull() & ~taken
        return out

    def explain(self, row: dict[str, Any]) -> list[str]:
        scores = {k: row.get(self.col(k)) for k in LETTERS}
        if scores["r"] is None:
            return ["no orders: not scored"]
        return [f"R={scores['r']} F={scores['f']} M={scores['m']}"]


@hookimpl
def register_policies(register: Any) -> None:
    register(RfmPolicy)
