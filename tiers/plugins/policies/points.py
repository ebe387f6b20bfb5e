"""`points`: loyalty points per order, multiplied by the tier held when the order was placed."""

from __future__ import annotations

import calendar
import datetime as dt
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from tiers import in_window
from tiers.core.errors import DataError, Problem, did_you_mean
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig, Policy
from tiers.core.numbers import NonNegative, Positive
from tiers.core.windows import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir

# An open-ended history interval ends here, so the interval join stays a hash join (an OR in
# the join predicate makes DuckDB fall back to a nested-loop join, about 800x slower).
FAR_FUTURE = dt.datetime(9999, 12, 31)
HISTORY_COLUMNS = ("customer_id", "tier", "valid_from", "valid_to")


class PointsConfig(ComponentConfig):
    per: Positive = Field(default=100, description="amount that earns `points` points")
    points: int = Field(default=1, gt=0, description="points earned per `per` spent")
    multipliers: dict[str, NonNegative] = Field(
        default_factory=dict,
        description="tier id -> multiplier for orders placed while holding that tier")
    history: str = Field(default="tier_history",
                         description="source table with customer_id, tier, valid_from, "
                                     "valid_to (empty = still held)")
    expire_months: int | None = Field(default=None, gt=0,
                                      description="points expire this many months after the "
                                                  "order that earned them")
    basis: Literal["balance", "window"] = Field(
        default="balance", description="tier by the points balance, or by points earned in "
                                       "the window")
    thresholds: dict[str, NonNegative] = Field(default_factory=dict,
                                         description="tier id -> minimum points")
    window: Window | None = Field(default=None, description="window for `basis: window`; the "
                                                            "ruleset's by default")


def scaled_multipliers(multipliers: dict[str, float]) -> tuple[dict[str, int], int] | None:
    """Each multiplier as an integer over ``10 ** scale``, exactly as written; None when one
    needs more than six decimals (then the float multiplies)."""
    from decimal import Decimal

    written = {t: Decimal(repr(float(m))).normalize() for t, m in multipliers.items()}
    scale = max([0, *(-int(d.as_tuple().exponent) for d in written.values())])
    if scale > 6:
        return None
    return {t: int(d.scaleb(scale)) for t, d in written.items()}, scale


def months_before(instant: dt.datetime, months: int) -> dt.datetime:
    """The same day-of-month ``months`` earlier, clamped to the month's last day."""
    month = instant.month - 1 - months
    year = instant.year + month // 12
    month = month % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


class PointsPolicy(Policy):
    name = "points"
    description = ("points per order (1 per 100 spent, rounded down per order) x the tier's "
                   "multiplier at order time; tiers by balance or points earned")
    Config: ClassVar[type[PointsConfig]] = PointsConfig

    @property
    def balance_column(self) -> str:
        return f"{self.id}_balance"

    @property
    def earned_column(self) -> str:
        return f"{self.id}_earned"

    @property
    def uses_history(self) -> bool:
        return bool(self.config.multipliers)

    def check(self) -> list[Problem]:
        ctx = self.context
        tier_ids = ctx.ruleset.tier_ids()
        problems = []
        for key in ("multipliers", "thresholds"):
            for tier in getattr(self.config, key):
                if tier not in tier_ids:
                    problems.append(ctx.problem(
                        f"tier {tier!r} is referenced but not defined under `tiers:`", key, tier,
                        hint=f"{did_you_mean(tier, tier_ids)}defined tiers: "
                             f"{', '.join(tier_ids)}"))
        ladder = self.ladder()
        for (_, low_id, low), (_, high_id, high) in pairwise(ladder):
            if high <= low:
                problems.append(ctx.problem(
                    f"thresholds must increase along the ladder: {high_id} ({high:g}) is not "
                    f"above {low_id} ({low:g})", "thresholds", high_id))
        if self.uses_history and self.config.history not in ctx.ruleset.sources:
            problems.append(ctx.problem(
                f"multipliers need the tier each customer held over time, from a table "
                f"{self.config.history!r}, which no source provides", "history",
                hint=f"add a source `{self.config.history}` with columns "
                     f"{', '.join(HISTORY_COLUMNS)}, or set `history:` to the table's name"))
        return problems

    def ladder(self) -> list[tuple[int, str, float]]:
        order = self.context.ruleset.tier_ids()
        return sorted((order.index(t), t, v) for t, v in self.config.thresholds.items()
                      if t in order)

    def _history(self, tables: dict[str, ir.Table]) -> ir.Table:
        hist = tables[self.config.history]
        missing = [c for c in HISTORY_COLUMNS if c not in hist.columns]
        if missing:
            raise DataError(f"table {self.config.history!r} lacks column(s) "
                            f"{', '.join(missing)}; it needs {', '.join(HISTORY_COLUMNS)}")
        return hist.select(
            h_customer_id=hist.customer_id.cast("string"),
            h_tier=hist.tier.cast("string"),
            h_from=hist.valid_from.cast("timestamp"),
            h_to=hist.valid_to.cast("timestamp").fill_null(FAR_FUTURE),
        )

    def order_points(self, tables: dict[str, ir.Table], as_of: dt.datetime) -> ir.Table:
        """One row per order before as-of with the points it earned (``pts``)."""

        orders = tables["orders"]
        orders = orders.filter(orders.order_ts < as_of).select("customer_id", "order_ts",
                                                               "amount")
        if self.uses_history:
            h = self._history(tables)
            # intervals are [valid_from, valid_to): an order at valid_to earns at the next tier
            orders = orders.left_join(h, [orders.customer_id == h.h_customer_id,
                                          orders.order_ts >= h.h_from,
                                          orders.order_ts < h.h_to])
        amount = orders.amount.cast("float64")
        # rounded down per order; a refund takes back the points of its amount
        base = (amount.abs() / self.config.per).floor().cast("int64") * self.config.points
        pts: Any = base * amount.sign().cast("int64")
        if self.uses_history:
            pts = self._multiplied(orders, pts)
        return orders.select("customer_id", "order_ts", pts=pts)

    def _multiplied(self, orders: ir.Table, pts: ir.IntegerValue) -> ir.IntegerValue:
        """``floor(pts x the multiplier of the tier held)``, exact as written: 100 x 1.13 is
        113, where a double would floor 112.99999999999999 to 112. The backends type a literal
        1.13 as a decimal, which is exact but 5x slower on DuckDB than the integer ratio used
        for a multiplier of up to six decimals (1.13 = 113 / 100)."""
        import ibis

        scaled = scaled_multipliers(self.config.multipliers)
        if scaled is None:
            mult = ibis.cases(*[(orders.h_tier == t, float(m))
                                for t, m in self.config.multipliers.items()], else_=1.0)
            return (pts * mult).floor().cast("int64")
        ratios, scale = scaled
        numerator = ibis.cases(*[(orders.h_tier == t, n) for t, n in ratios.items()],
                               else_=10 ** scale)
        return ((pts * numerator) / 10 ** scale).floor().cast("int64")

    def customer_table(self, tables: dict[str, ir.Table], as_of: dt.datetime) -> ir.Table:
        t = self.order_points(tables, as_of)
        live = t.order_ts < as_of
        if self.config.expire_months:
            live = live & (t.order_ts >= months_before(as_of, self.config.expire_months))
        window = self.config.window or self.context.ruleset.window
        return t.group_by("customer_id").aggregate(**{
            self.balance_column: t.pts.sum(where=live),
            self.earned_column: t.pts.sum(where=in_window(t.order_ts, window, as_of)),
        })

    def columns(self, table: ir.Table) -> dict[str, ir.Value]:
        # customers with no orders (or none in the window) have 0 points, not a missing value
        return {c: table[c].fill_null(0).cast("int64")
                for c in (self.balance_column, self.earned_column)}

    def rank(self, table: ir.Table) -> ir.IntegerValue:
        import ibis

        ladder = self.ladder()
        if not ladder:
            return ibis.null("int8")
        col = table[self.balance_column if self.config.basis == "balance"
                    else self.earned_column]
        return ibis.cases(*[(col >= v, r) for r, _, v in reversed(ladder)],
                          else_=ibis.null("int8")).cast("int8")

    def explain(self, row: dict[str, Any]) -> list[str]:
        col = self.balance_column if self.config.basis == "balance" else self.earned_column
        value = row.get(col) or 0
        ladder = self.ladder()
        if not ladder:
            return [f"{col} {value}: no thresholds, so this policy only keeps points "
                    "(and applies tier multipliers); it grants no tier"]
        return [f"{col} {value} {'>=' if value >= v else '<'} {v:g} for {t}"
                for _, t, v in ladder]


@hookimpl
def register_policies(register: Any) -> None:
    register(PointsPolicy)
