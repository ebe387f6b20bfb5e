"""`score`: normalised metrics combined by weights; tiers by score cut-offs or top percentiles."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from tiers.core.errors import Problem, did_you_mean
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig, Policy
from tiers.core.metrics import MetricSpec
from tiers.core.numbers import Finite, Positive
from tiers.core.windows import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir


class ScoreComponent(ComponentConfig):
    metric: str
    weight: Positive
    invert: bool = Field(default=False, description="lower is better (e.g. recency_days)")


class ScoreConfig(ComponentConfig):
    components: list[ScoreComponent] = Field(min_length=1)
    normalise: Literal["minmax", "rank"] = Field(
        default="minmax", description="minmax: (x - min) / (max - min); rank: percent rank "
                                      "(ties share a value)")
    cutoffs: dict[str, Finite] | None = Field(
        default=None, description="tier id -> minimum score (0 to 1)")
    top_percent: dict[str, Finite] | None = Field(
        default=None, description="tier id -> share of customers (percent) with the highest "
                                  "scores, e.g. {gold: 10, silver: 30}")
    window: Window | None = None

    @model_validator(mode="after")
    def _one_way(self) -> ScoreConfig:
        if (self.cutoffs is None) == (self.top_percent is None):
            raise ValueError("give exactly one of `cutoffs` and `top_percent`")
        for v in (self.cutoffs or {}).values():
            if not 0 <= v <= 1:
                raise ValueError("cut-offs are scores between 0 and 1")
        for v in (self.top_percent or {}).values():
            if not 0 < v <= 100:
                raise ValueError("top_percent values are percentages in (0, 100]")
        return self


class ScorePolicy(Policy):
    name = "score"
    description = "weighted score of normalised metrics; tiers by cut-offs or top percentiles"
    Config: ClassVar[type[ScoreConfig]] = ScoreConfig

    @property
    def score_column(self) -> str:
        return self.id if self.id != self.name else "score"

    def reads_population(self) -> bool:
        return True

    def metrics(self) -> list[MetricSpec]:
        return [self.context.metric(c.metric, self.config.window)
                for c in self.config.components]

    def targets(self) -> dict[str, float]:
        return self.config.cutoffs if self.config.cutoffs is not None else (
            self.config.top_percent or {})

    def ladder(self) -> list[tuple[int, str, float]]:
        order = self.context.ruleset.tier_ids()
        return sorted((order.index(t), t, v) for t, v in self.targets().items() if t in order)

    def check(self) -> list[Problem]:
        tier_ids = self.context.ruleset.tier_ids()
        key = "cutoffs" if self.config.cutoffs is not None else "top_percent"
        problems = [self.context.problem(
            f"tier {t!r} is referenced but not defined under `tiers:`", key, t,
            hint=f"{did_you_mean(t, tier_ids)}defined tiers: {', '.join(tier_ids)}")
            for t in self.targets() if t not in tier_ids]
        for (_, lo_id, lo), (_, hi_id, hi) in pairwise(self.ladder()):
            wrong = hi <= lo if key == "cutoffs" else hi >= lo
            if wrong:
                what = "higher cut-off" if key == "cutoffs" else "smaller share"
                problems.append(self.context.problem(
                    f"{hi_id} needs a {what} than {lo_id} ({hi:g} vs {lo:g})", key, hi_id,
                    hint="tiers are listed lowest first"))
        return problems

    def columns(self, table: ir.Table) -> dict[str, ir.Value]:
        import ibis

        total_weight = sum(c.weight for c in self.config.components)
        parts = []
        for comp, spec in zip(self.config.components, self.metrics(), strict=True):
            x = table[spec.column].cast("float64")
            if self.config.normalise == "minmax":
                lo, hi = x.min().over(), x.max().over()
                norm = (x - lo) / (hi - lo).nullif(0)
            else:
                # rank over customers with a value; ties share it
                norm = ibis.percent_rank().over(group_by=x.isnull(), order_by=x)
                norm = ibis.ifelse(x.isnull(), ibis.null("float64"), norm)
            if comp.invert:
                norm = 1 - norm
            # a missing value (or all customers equal) contributes nothing
            parts.append(norm.fill_null(0) * (comp.weight / total_weight))
        score = sum(parts[1:], parts[0])
        return {self.score_column: score.round(6)}

    def rank(self, table: ir.Table) -> ir.IntegerValue:
        import ibis

        score = table[self.score_column]
        ladder = self.ladder()
        if self.config.cutoffs is not None:
            branches = [(score >= v, r) for r, _, v in reversed(ladder)]
        else:
            # 0-based position by score, customer_id breaking ties so every backend agrees;
            # "top 10%" of n customers is the first ceil(n * 10 / 100) positions
            pos = ibis.row_number().over(order_by=[ibis.desc(score), table.customer_id])
            n = table.customer_id.count().over()
            branches = [(pos < (n * (v / 100.0)).ceil(), r) for r, _, v in reversed(ladder)]
        return ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")

    def explain(self, row: dict[str, Any]) -> list[str]:
        score = row.get(self.score_column)
        return [f"{self.score_column} {score} vs {t} {v:g}" for _, t, v in self.ladder()]


@hookimpl
def register_policies(register: Any) -> None:
    register(ScorePolicy)
