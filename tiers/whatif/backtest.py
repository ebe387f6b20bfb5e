"""Replay a ruleset as of a series of dates, carrying state from one evaluation to the next.

Each period is one engine query over source tables loaded once on a single connection; its
result is materialised as a small Arrow table (a few columns per customer) which becomes the
next period's ``previous`` state, exactly what a live run would read back from the state store.
Nothing is written to the store and no action is applied.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.core.errors import UsageError
from tiers.engine.backends import connect
from tiers.engine.evaluate import combine, evaluate
from tiers.whatif.costs import Ledger, action_costs, costed_actions, sum_figures
from tiers.whatif.diff import Migration, materialise, migration_matrix, tier_labels
from tiers.whatif.preload import share_sources

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from tiers.engine.evaluate import Evaluation
    from tiers.ruleset.loader import LoadedRuleset

EVERY = ("day", "week", "month", "quarter", "year")
MAX_PERIODS = 1000
# columns of a period's result kept when the engine provides them (semantics)
OPTIONAL_COLUMNS = ("entry_rank", "prev_held_until", "pinned", "tier_event", "tier_since",
                    "held_until", "segments")


class BacktestError(UsageError):
    """The backtest schedule (--from, --to, --every) is not usable."""


def _add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule(start: dt.date, end: dt.date, every: str) -> list[dt.datetime]:
    """Evaluation instants from ``start`` to ``end`` inclusive, one per ``every``; month steps
    keep the start's day of month (clamped: 31 January, 28 February, 31 March...)."""
    if every not in EVERY:
        raise BacktestError(f"--every {every!r}: use one of {', '.join(EVERY)}")
    if end < start:
        raise BacktestError(f"--to {end} is before --from {start}; swap them")
    days = {"day": 1, "week": 7}
    months = {"month": 1, "quarter": 3, "year": 12}
    out: list[dt.date] = []
    k = 0
    while True:
        day = (start + dt.timedelta(days=days[every] * k) if every in days
               else _add_months(start, months[every] * k))
        if day > end:
            break
        out.append(day)
        k += 1
        if len(out) > MAX_PERIODS:
            raise BacktestError(
                f"--from {start} --to {end} --every {every} gives more than {MAX_PERIODS} "
                "periods; choose a longer step or a shorter range")
    return [dt.datetime(d.year, d.month, d.day) for d in out]


def parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BacktestError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


@dataclass
class Period:
    """The figures of one evaluation date."""

    as_of: dt.datetime
    customers: int
    tiers: dict[str, int]
    spend: dict[str, float]
    moves: dict[str, int]              # entered / upgraded / downgraded / unchanged
    matrix: Migration                  # previous period's tier -> this period's tier
    protected: dict[str, int]          # rule -> customers kept above the tier they earn
    seconds: float = 0.0
    cost: dict[str, float] = field(default_factory=dict)

    @property
    def protected_total(self) -> int:
        return sum(self.protected.values())

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.date().isoformat(), "customers": self.customers,
                "tiers": self.tiers, "spend": {k: round(v, 2) for k, v in self.spend.items()},
                "moves": self.moves, "protected": self.protected, "matrix": self.matrix.to_json(),
                "cost": self.cost, "seconds": round(self.seconds, 4)}


@dataclass
class Backtest:
    ruleset: LoadedRuleset
    every: str
    periods: list[Period]
    seconds: float = 0.0

    def churn(self) -> Migration:
        """Moves between tiers summed over all periods after the first (new customers apart)."""
        ladder = self.ruleset.model.tier_ids()
        rows = [p.matrix for p in self.periods[1:]]
        counts = [[sum(m.count(f, t) for m in rows if f in m.from_tiers and t in m.to_tiers)
                   for t in ladder] for f in ladder]
        labels = tier_labels(self.ruleset)
        return Migration(ladder, ladder, counts, [labels[t] for t in ladder],
                         [labels[t] for t in ladder])

    def to_json(self) -> dict[str, Any]:
        return {"ruleset": self.ruleset.name, "file": str(self.ruleset.file),
                "every": self.every, "tiers": self.ruleset.model.tier_ids(),
                "periods": [p.to_json() for p in self.periods],
                "churn": self.churn().to_json(), "seconds": round(self.seconds, 3)}


def raw_rank(evaluation: Evaluation) -> ir.IntegerValue:
    """The rank the customer's metrics earn (entry or maintenance) before retention and pins."""
    import ibis


    t = evaluation.table
    if "qualified_rank" in t.columns:
        return t.qualified_rank
    ranks = [t[c] for c in evaluation.policy_columns.values()]
    if not ranks:
        return ibis.literal(0, "int8")
    return combine(ranks, evaluation.ruleset.model.combine)


def period_columns(evaluation: Evaluation, everything: bool = False) -> ir.Table:
    """The few columns a period keeps: enough for figures and for the next state; with
    ``everything``, the evaluation's other columns too (what actions select on)."""
    t = evaluation.table
    cols: dict[str, Any] = {"customer_id": t.customer_id, "tier": t.tier,
                            "tier_rank": t.tier_rank.cast("int8"),
                            "earned_rank": raw_rank(evaluation).cast("int8"),
                            "spend": t.spend.cast("float64")}
    cols.update({c: t[c] for c in OPTIONAL_COLUMNS if c in t.columns})
    if everything:
        cols = {**{c: t[c] for c in t.columns if c not in cols}, **cols}
    return t.select(**cols)


def _with_previous(cur: pa.Table, prev: pa.Table | None) -> pa.Table:
    """Add prev_tier / prev_rank / prev_since / prev_held from the carried state, unless the
    engine already reported them."""
    import pyarrow as pa

    if prev is None:
        n = cur.num_rows
        extra = {"c_prev_tier": pa.nulls(n, pa.string()), "c_prev_rank": pa.nulls(n, pa.int8()),
                 "c_prev_since": pa.nulls(n, pa.timestamp("us"))}
        for name, arr in extra.items():
            cur = cur.append_column(name, arr)
        return cur
    import pyarrow.compute as pc

    # a lookup by position, not a pyarrow join: joins refuse list columns such as segments
    idx = pc.index_in(cur["customer_id"], value_set=prev["customer_id"])
    for src, dst in (("tier", "c_prev_tier"), ("tier_rank", "c_prev_rank"),
                     ("since", "c_prev_since")):
        cur = cur.append_column(dst, pc.take(prev[src], idx))
    return cur


def period_figures(cur: pa.Table, as_of: dt.datetime, loaded: LoadedRuleset,
                   protected: dict[str, int]) -> Period:
    import pyarrow.compute as pc

    ladder = loaded.model.tier_ids()
    g = cur.group_by("tier").aggregate([("tier", "count"), ("spend", "sum")])
    by = {r["tier"]: r for r in g.to_pylist()}
    tiers = {t: by.get(t, {}).get("tier_count", 0) for t in ladder}
    spend = {t: float(by.get(t, {}).get("spend_sum") or 0.0) for t in ladder}
    prev_rank, rank = cur["c_prev_rank"], cur["tier_rank"]
    entered = pc.sum(pc.is_null(prev_rank)).as_py() or 0
    up = pc.sum(pc.fill_null(pc.greater(rank, prev_rank), False)).as_py() or 0
    down = pc.sum(pc.fill_null(pc.less(rank, prev_rank), False)).as_py() or 0
    moves = {"entered": entered, "upgraded": up, "downgraded": down,
             "unchanged": cur.num_rows - entered - up - down}
    matrix = migration_matrix(cur["c_prev_tier"], cur["tier"], ladder, ladder,
                              tier_labels(loaded))
    return Period(as_of, cur.num_rows, tiers, spend, moves, matrix, protected)


def protection(cur: pa.Table, as_of: dt.datetime) -> dict[str, int]:
    """Customers kept above the tier their metrics earn for entry, by what kept them:

    - ``maintenance``: a maintenance condition (lower than entry) kept the tier;
    - ``hold``: a hold period from an earlier evaluation was still running;
    - ``soft_landing``: the drop was limited to fewer levels than earned;
    - ``pin``: a manual override.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = cur.column_names
    n = cur.num_rows
    false = pa.array([False] * n)

    def count(mask: pa.Array | pa.ChunkedArray) -> int:
        return int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)

    rank, earned = cur["tier_rank"], cur["earned_rank"]
    above = pc.fill_null(pc.greater(rank, earned), False)
    pinned = pc.fill_null(cur["pinned"], False) if "pinned" in names else false
    out = {"maintenance": 0}
    if "entry_rank" in names:
        kept = pc.and_(pc.greater(earned, pc.fill_null(cur["entry_rank"], 0)),
                       pc.equal(rank, earned))
        out["maintenance"] = count(pc.and_(kept, pc.invert(pinned)))
    above = pc.and_(above, pc.invert(pinned))
    if "prev_held_until" in names:
        until = pc.cast(cur["prev_held_until"], pa.timestamp("us"))
        held = pc.and_(pc.fill_null(pc.greater(until, pa.scalar(as_of, pa.timestamp("us"))),
                                    False),
                       pc.fill_null(pc.equal(rank, cur["c_prev_rank"]), False))
    else:
        held = false
    out["hold"] = count(pc.and_(above, held))
    out["soft_landing"] = count(above) - out["hold"]
    out["pin"] = count(pc.and_(pinned, pc.fill_null(pc.greater(rank, earned), False)))
    return out


def next_state(cur: pa.Table, as_of: dt.datetime) -> pa.Table:
    """This period's result as the previous-state table the next evaluation reads
    (:data:`tiers.core.record.PREVIOUS_STATE_SCHEMA`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ts = pa.timestamp("us")
    n = cur.num_rows
    if "tier_since" in cur.column_names:
        since = pc.cast(cur["tier_since"], ts)
    else:
        # the tier is unchanged: keep when it was entered; otherwise it starts now
        same = pc.fill_null(pc.equal(cur["c_prev_tier"], cur["tier"]), False)
        since = pc.if_else(same, pc.cast(cur["c_prev_since"], ts), pa.scalar(as_of, ts))
    held = (pc.cast(cur["held_until"], ts) if "held_until" in cur.column_names
            else pa.nulls(n, ts))
    segments = (cur["segments"] if "segments" in cur.column_names
                else pa.array([[] for _ in range(n)], pa.list_(pa.string())))
    return pa.table({"customer_id": cur["customer_id"], "tier": cur["tier"],
                     "tier_rank": pc.cast(cur["tier_rank"], pa.int8()), "since": since,
                     "held_until": held, "segments": segments})


def backtest(loaded: LoadedRuleset, dates: list[dt.datetime], con: Any = None,
             every: str = "month", on_period: Callable[[dt.datetime], None] | None = None,
             ) -> Backtest:
    """Evaluate ``loaded`` as of each of ``dates`` in order, feeding each result forward."""
    import ibis


    if not dates:
        raise BacktestError("the backtest has no dates to evaluate")
    started = time.perf_counter()
    con = con if con is not None else connect(loaded.model.engine)
    share_sources([loaded], con, cache=True)
    state: pa.Table | None = None
    periods = []
    ledger = Ledger()
    with_actions = bool(costed_actions(loaded))
    for as_of in dates:
        t0 = time.perf_counter()
        previous = ibis.memtable(state) if state is not None else None
        evaluation = evaluate(loaded, as_of, con, previous)
        if with_actions:  # the actions' selections run on the result computed once
            evaluation.settle()
        # one fetch per period: with actions, it also carries what their selections read
        cur = materialise(period_columns(evaluation, everything=with_actions), con,
                          f"{loaded.file} as of {as_of:%Y-%m-%d}")
        if with_actions:
            period_cost = sum_figures(action_costs(evaluation, ledger, table=cur))
        cur = _with_previous(cur, state)
        period = period_figures(cur, as_of, loaded, protection(cur, as_of))
        if with_actions:
            period.cost = period_cost
        state = next_state(cur, as_of)
        period.seconds = time.perf_counter() - t0
        periods.append(period)
        if on_period is not None:
            on_period(as_of)
    return Backtest(loaded, every, periods, time.perf_counter() - started)
