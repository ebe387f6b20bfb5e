"""The figures an HTML report shows, computed in the engine and kept as small Python data.

The evaluation is cached once on the backend; every section is then one aggregate query over
it (tiers, RFM grid, lifecycle states), so no per-customer rows come back to Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError, TiersError, UsageError
from tiers.engine.backends import connect
from tiers.engine.evaluate import as_of_instant, evaluate
from tiers.whatif.backtest import backtest
from tiers.whatif.diff import diff_evaluations, materialise, migration_matrix, tier_labels
from tiers.whatif.preload import share_sources

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.engine.evaluate import Evaluation
    from tiers.ruleset.loader import LoadedRuleset
    from tiers.whatif.backtest import Backtest
    from tiers.whatif.diff import Migration

# lifecycle states in the order a customer passes through them
LIFECYCLE_ORDER = ("prospect", "new", "active", "returning", "dormant", "churned")


class ReportError(TiersError):
    """The report cannot be made as asked (conflicting options, unwritable file...)."""


@dataclass
class TierRow:
    tier: str
    name: str
    customers: int
    spend: float
    customer_share: float = 0.0
    spend_share: float = 0.0


@dataclass
class RfmGrid:
    """Customers per (recency score, frequency score), with their average monetary score."""

    policy: str
    counts: list[list[int]]          # [f - 1][r - 1]
    avg_m: list[list[float | None]]

    @property
    def scored(self) -> int:
        return sum(map(sum, self.counts))


@dataclass
class Funnel:
    """Customers at each lifecycle stage, each stage a subset of the one before, and the
    count per state behind it."""

    policy: str
    stages: list[tuple[str, int]]    # (stage, customers)
    states: list[tuple[str, int]]    # (state label, customers)


@dataclass
class ReportData:
    ruleset: LoadedRuleset
    as_of: dt.datetime
    tiers: list[TierRow]
    currency: str | None
    migration: Migration | None = None
    migration_title: str = ""
    rfm: list[RfmGrid] = field(default_factory=list)
    lifecycle: list[Funnel] = field(default_factory=list)
    backtests: list[Backtest] = field(default_factory=list)

    @property
    def customers(self) -> int:
        return sum(t.customers for t in self.tiers)

    @property
    def spend(self) -> float:
        return sum(t.spend for t in self.tiers)


def _run(expr: ir.Table, what: str) -> Any:

    try:
        return expr.to_pyarrow().to_pylist()
    except TiersError:
        raise
    except Exception as exc:
        raise DataError(f"the engine could not compute {what}: {exc}") from None


def tier_rows(table: ir.Table, loaded: LoadedRuleset) -> list[TierRow]:
    rows = _run(table.group_by("tier").aggregate(
        customers=table.count(), spend=table.spend.cast("float64").sum()), "the tier totals")
    by = {r["tier"]: r for r in rows}
    out = [TierRow(t.id, t.label, by.get(t.id, {}).get("customers", 0),
                   float(by.get(t.id, {}).get("spend") or 0.0)) for t in loaded.model.tiers]
    customers = sum(r.customers for r in out) or 1
    # refunds can make a tier's net spend negative; shares are of positive spend
    positive = sum(max(r.spend, 0.0) for r in out) or 1.0
    for r in out:
        r.customer_share = r.customers / customers
        r.spend_share = max(r.spend, 0.0) / positive
    return out


def rfm_grids(table: ir.Table, loaded: LoadedRuleset) -> list[RfmGrid]:
    grids = []
    for policy in loaded.policies:
        if policy.name != "rfm" or not hasattr(policy, "col"):
            continue
        r, f, m = (policy.col(x) for x in ("r", "f", "m"))
        if not {r, f, m} <= set(table.columns):
            continue
        scored = table.filter(table[r].notnull() & table[f].notnull())
        rows = _run(scored.group_by([r, f]).aggregate(
            n=scored.count(), avg_m=scored[m].cast("float64").mean()), "the RFM grid")
        counts = [[0] * 5 for _ in range(5)]
        avg: list[list[float | None]] = [[None] * 5 for _ in range(5)]
        for row in rows:
            if 1 <= row[r] <= 5 and 1 <= row[f] <= 5:
                counts[row[f] - 1][row[r] - 1] = row["n"]
                avg[row[f] - 1][row[r] - 1] = row["avg_m"]
        grids.append(RfmGrid(policy.id, counts, avg))
    return grids


def lifecycle_funnels(table: ir.Table, loaded: LoadedRuleset) -> list[Funnel]:
    funnels = []
    for policy in loaded.policies:
        column = getattr(policy, "state_column", None)
        if policy.name != "lifecycle" or column not in table.columns:
            continue
        rows = _run(table.group_by(column).aggregate(n=table.count()), "the lifecycle states")
        by = {r[column]: r["n"] for r in rows}
        label = getattr(policy, "label", lambda s: s)
        order = [s for s in LIFECYCLE_ORDER if s in by] + sorted(
            s for s in by if s not in LIFECYCLE_ORDER and s is not None)

        def n(*states: str, by: dict[str, int] = by) -> int:
            return sum(by.get(s, 0) for s in states)

        stages = [("all customers", sum(by.values())),
                  ("bought at least once", n("new", "active", "returning", "dormant", "churned")),
                  ("not churned", n("new", "active", "returning", "dormant")),
                  ("active", n("new", "active", "returning"))]
        funnels.append(Funnel(policy.id, stages, [(label(s) or s, by[s]) for s in order]))
    return funnels


def collect(evaluation: Evaluation) -> ReportData:
    """Tier totals, RFM grids and lifecycle funnels of one evaluation."""
    loaded = evaluation.ruleset
    try:
        table = evaluation.table.cache()
    except TiersError:
        raise
    except Exception as exc:
        from tiers.core.errors import DataError

        raise DataError(f"the engine could not evaluate {loaded.file}: {exc}") from None
    return ReportData(loaded, evaluation.as_of, tier_rows(table, loaded), loaded.model.currency,
                      rfm=rfm_grids(table, loaded), lifecycle=lifecycle_funnels(table, loaded))


def build(loaded: LoadedRuleset, as_of: Any = None, *, compare: LoadedRuleset | None = None,
          since: Any = None, backtest_dates: list[dt.datetime] | None = None,
          every: str = "month", con: Any = None, store: Any = None) -> ReportData:
    """Everything the report shows, on one connection over sources loaded once.

    With a state store (``store``) holding an earlier run of this ruleset, the evaluation
    starts from that run's state, as the next live run would, and the migration shown by
    default is the one since that run."""

    if compare is not None and since is not None:
        raise UsageError("--compare and --since both set a migration to show; choose one")
    instant = as_of_instant(as_of if as_of is not None else loaded.model.as_of)
    con = con if con is not None else connect(loaded.model.engine)
    share_sources([loaded, *([compare] if compare else [])], con,
                  cache=bool(backtest_dates) or compare is not None or since is not None)
    last = store.last_as_of(loaded.name) if store is not None else None
    previous = (store.previous(loaded.name, con)
                if last is not None and last <= instant else None)
    current = evaluate(loaded, instant, con, previous=previous)
    data = collect(current)
    if compare is not None:
        d = diff_evaluations(evaluate(compare, instant, con), current)
        data.migration = d.matrix
        data.migration_title = (f"{compare.file.name} → {loaded.file.name}, "
                                f"as of {instant:%Y-%m-%d}")
    elif since is not None:
        before = as_of_instant(since)
        if before >= instant:
            raise UsageError(f"--since {before:%Y-%m-%d} must be before the report date "
                              f"{instant:%Y-%m-%d}")
        d = diff_evaluations(evaluate(loaded, before, con), current)
        data.migration = d.matrix
        data.migration_title = f"{before:%Y-%m-%d} → {instant:%Y-%m-%d}"
    elif previous is not None:
        assert last is not None
        data.migration = since_last_run(previous, current)
        data.migration_title = (f"since the last recorded run ({last:%Y-%m-%d}) → "
                                f"{instant:%Y-%m-%d}")
    if backtest_dates:
        data.backtests.append(backtest(loaded, backtest_dates, con, every))
        if compare is not None:
            data.backtests.append(backtest(compare, backtest_dates, con, every))
    return data


def since_last_run(previous: ir.Table, current: Evaluation) -> Migration:
    """Tier of each customer after the last recorded run against the tier now."""

    loaded = current.ruleset
    before = previous.select(customer_id=previous.customer_id.cast("string"),
                             old_tier=previous.tier)
    now = current.table.select(customer_id_new=current.table.customer_id.cast("string"),
                               new_tier=current.table.tier)
    joined = before.outer_join(now, before.customer_id == now.customer_id_new)
    pairs = materialise(joined.select("old_tier", "new_tier"), current.con,
                        f"{loaded.file} against its last recorded run")
    ladder = loaded.model.tier_ids()
    return migration_matrix(pairs["old_tier"], pairs["new_tier"], ladder, ladder,
                            tier_labels(loaded))
