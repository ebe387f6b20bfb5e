"""`expression`: a tier or a segment granted by a condition written in the ruleset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from tiers import compile_expression
from tiers.core.errors import Problem, RulesetError, did_you_mean
from tiers.core.expressions import ExpressionError, Parsed, parse_expression
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig, Policy
from tiers.core.metrics import MetricSpec
from tiers.core.windows import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.core.locations import Loc


class ExpressionConfig(ComponentConfig):
    when: str | None = Field(default=None, description="the condition, e.g. `orders >= 2 and "
                                                       "spend > 40`; used with `tier` or `segment`")
    tier: str | None = Field(default=None, description="tier id granted when `when` holds")
    segment: str | None = Field(default=None, min_length=1,
                                description="segment label granted when `when` holds")
    tiers: dict[str, str] | None = Field(
        default=None, min_length=1,
        description="tier id -> condition; the highest tier whose condition holds is granted")
    segments: dict[str, str] | None = Field(
        default=None, min_length=1, description="segment label -> condition; every label whose "
                                                "condition holds is granted")
    window: Window | None = Field(default=None, description="window of the windowed metrics "
                                                            "(spend, orders...); the ruleset's "
                                                            "by default")

    @model_validator(mode="after")
    def _one_form(self) -> ExpressionConfig:
        forms = [self.tier is not None, self.segment is not None, self.tiers is not None,
                 self.segments is not None]
        if sum(forms) != 1:
            raise ValueError("give exactly one of `tier` (with `when`), `segment` (with `when`), "
                             "`tiers` or `segments`")
        if (self.tier is not None or self.segment is not None) and self.when is None:
            raise ValueError("`tier` and `segment` need `when:` - the condition that grants them")
        if self.when is not None and (self.tiers is not None or self.segments is not None):
            raise ValueError("`when` goes with `tier` or `segment`; with `tiers`/`segments` "
                             "write each condition under its tier or label")
        return self


class ExpressionPolicy(Policy):
    name = "expression"
    description = "tier or segment granted by a condition, e.g. `orders >= 2 and spend > 40`"
    Config: ClassVar[type[ExpressionConfig]] = ExpressionConfig

    def __init__(self, config: ExpressionConfig, context: Any):
        super().__init__(config, context)
        if config.segment is not None or config.segments is not None:
            self.output = "segment"  # type: ignore[misc]

    def rules(self) -> list[tuple[str, str, Loc]]:
        """(tier id or label, condition, YAML sub-path of the condition) in ladder order."""
        c = self.config
        if c.when is not None:
            return [(c.tier or c.segment or "", c.when, ("when",))]
        if c.segments is not None:
            return [(label, src, ("segments", label)) for label, src in c.segments.items()]
        order = self.context.ruleset.tier_ids()
        items = sorted(c.tiers.items(), key=lambda kv: order.index(kv[0])
                       if kv[0] in order else -1)
        return [(tier, src, ("tiers", tier)) for tier, src in items]

    def _parsed(self) -> list[tuple[str, Parsed, Loc]]:
        return [(target, parse_expression(src), loc) for target, src, loc in self.rules()]

    def _metric_names(self) -> set[str]:
        return set(self.context.metric_names())

    def check(self) -> list[Problem]:
        problems = []
        tier_ids = self.context.ruleset.tier_ids()
        targets = ([("tier", self.config.tier)] if self.config.tier else []) + [
            ("tiers", t) for t in (self.config.tiers or {})]
        for where, tier in targets:
            if tier not in tier_ids:
                sub = ("tier",) if where == "tier" else ("tiers", tier)
                problems.append(self.context.problem(
                    f"tier {tier!r} is referenced but not defined under `tiers:`", *sub,
                    hint=f"{did_you_mean(tier, tier_ids)}defined tiers: {', '.join(tier_ids)}"))
        metrics = self._metric_names()
        for _, src, loc in self.rules():
            try:
                parsed = parse_expression(src)
            except ExpressionError as exc:
                problems.append(self._problem(exc, loc))
                continue
            for name, offset in parsed.names:
                # a name close to a metric is a typo; other names are customer attributes,
                # checked against the customers table when the ruleset runs
                guess = did_you_mean(name, metrics)
                if name not in metrics and guess:
                    problems.append(self._problem(ExpressionError(
                        f"unknown metric {name!r}", parsed.source, offset,
                        hint=f"{guess}available metrics: {', '.join(sorted(metrics))}"), loc))
        return problems

    def _problem(self, exc: ExpressionError, loc: Loc) -> Problem:
        hint = exc.hint or "fix the expression"
        pointer = exc.pointer().replace("\n", "\n    ")
        return self.context.problem(f"{exc.describe()}\n    {pointer}", *loc, hint=hint)

    def metrics(self) -> list[MetricSpec]:
        metrics = self._metric_names()
        names: list[str] = []
        for _, src, _ in self.rules():
            try:
                parsed = parse_expression(src)
            except ExpressionError:
                continue  # reported by check()
            names += [n for n in parsed.name_list() if n in metrics and n not in names]
        return [self.context.metric(n, self.config.window) for n in names]

    def _allowed(self, table: ir.Table) -> dict[str, str]:
        allowed = {c: c for c in table.columns}
        allowed.update({s.measure: s.column for s in self.metrics()})
        return allowed

    def compiled(self, table: ir.Table) -> list[tuple[str, ir.BooleanValue]]:
        """(tier id or label, condition) per rule, NULL-free."""
        allowed = self._allowed(table)
        out = []
        for target, parsed, loc in self._parsed():
            try:
                cond = compile_expression(parsed, table, allowed)
            except ExpressionError as exc:
                raise RulesetError([self._problem(exc, loc)]) from None
            out.append((target, cond.fill_null(False)))
        return out

    def rank(self, table: ir.Table) -> ir.IntegerValue:
        import ibis

        order = self.context.ruleset.tier_ids()
        branches = [(cond, order.index(t)) for t, cond in reversed(self.compiled(table))]
        return ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")

    def segments(self, table: ir.Table) -> dict[str, ir.BooleanValue]:
        return dict(self.compiled(table))

    def explain(self, row: dict[str, Any]) -> list[str]:
        lines = []
        for target, src, _ in self.rules():
            names = parse_expression(src).name_list()
            values = ", ".join(f"{n}={shown(row.get(n))}" for n in names)
            lines.append(f"{target}: `{src}` with {values}")
        return lines


def shown(value: Any) -> str:
    """A value as the customer's row holds it, written the way the ruleset writes values."""
    from decimal import Decimal

    if value is None:
        return "missing"
    if isinstance(value, Decimal):
        return format(value, "f")
    return repr(value) if isinstance(value, str) else str(value)


@hookimpl
def register_policies(register: Any) -> None:
    register(ExpressionPolicy)
