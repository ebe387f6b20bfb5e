"""A run's result: the per-customer table fetched once, its tier summary and event counts."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError, TiersError
from tiers.engine.evaluate import evaluate
from tiers.engine.fetch import to_arrow, to_numpy

if TYPE_CHECKING:
    import pyarrow as pa

    from tiers.ruleset.loader import LoadedRuleset


@dataclass
class TierSummary:
    tier: str
    name: str
    customers: int
    customer_share: float
    spend: float
    spend_share: float


@dataclass
class RunResult:
    ruleset: LoadedRuleset
    as_of: dt.datetime
    table: pa.Table
    metric_columns: list[str]
    summary: list[TierSummary]
    timings: dict[str, float] = field(default_factory=dict)
    #: events of this run by name (entered, upgraded...), when the engine computes them
    event_counts: dict[str, int] = field(default_factory=dict)
    events: pa.Table | None = None
    #: per action, the intents this run planned (tiers.actions.plan.ActionPlan)
    plans: list[Any] = field(default_factory=list)
    #: what applying did (tiers.actions.apply.ApplySummary); None on a dry run or without a store
    applied: Any = None
    run: Any = None              # tiers.store.store.RunHandle when recorded
    store_url: str | None = None
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    #: the settled evaluation on its backend, for what derives from the result (actions)
    evaluation: Any = None

    @property
    def customers(self) -> int:
        return self.table.num_rows

    def export_columns(self) -> list[str]:
        return ["customer_id", "tier", *self.metric_columns]


def summarize(loaded: LoadedRuleset, table: pa.Table) -> list[TierSummary]:
    # numpy on the Arrow buffers: Table.group_by and to_numpy import pandas (~0.5 s a run)
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc


    n_tiers = len(loaded.model.tiers)
    ranks = to_numpy(pc.cast(table["tier_rank"], pa.int64()), "int64")
    spend = to_numpy(pc.cast(table["spend"], pa.float64()), "float64")
    counts = np.bincount(ranks, minlength=n_tiers)
    sums = np.bincount(ranks, weights=spend, minlength=n_tiers)
    total_customers = table.num_rows or 1
    total_spend = float(np.maximum(sums, 0).sum()) or 1.0
    out = []
    for i, tier in enumerate(loaded.model.tiers):
        n, s = int(counts[i]), float(sums[i])
        out.append(TierSummary(tier.id, tier.label, n, n / total_customers, s,
                               max(s, 0) / total_spend))
    return out


def materialize(loaded: LoadedRuleset, instant: dt.datetime, con: Any, previous: Any
                ) -> RunResult:
    """Evaluate against ``previous`` state, compute the per-customer result once on the
    backend, and fetch it and its events."""
    started = time.perf_counter()
    evaluation = evaluate(loaded, instant, con, previous=previous)
    try:
        evaluation.settle()
        table = to_arrow(evaluation.con, evaluation.table)
        events = (to_arrow(evaluation.con, evaluation.events)
                  if evaluation.events is not None else None)
    except TiersError:
        raise
    except Exception as exc:
        raise DataError(f"the engine could not evaluate {loaded.file}: {exc}") from None
    timings = {"evaluate": time.perf_counter() - started}
    result = RunResult(loaded, instant, table, evaluation.metric_columns,
                       summarize(loaded, table), timings, events=events,
                       evaluation=evaluation)
    if events is not None:
        counts = events["event"].value_counts().to_pylist()
        result.event_counts = {c["values"]: c["counts"] for c in counts}
    return result


def table_for_export(result: RunResult) -> pa.Table:
    return result.table.select(result.export_columns())
