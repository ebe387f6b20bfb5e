"""The engine: sources -> metrics -> policies -> tier, as one Ibis expression per run."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError, TiersError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from tiers.core.loader import LoadedRuleset


def as_of_instant(as_of: dt.date | dt.datetime | str | None) -> dt.datetime:
    """The exclusive end of every window. A date means the start of that day, so a run
    ``--as-of 2026-06-30`` counts orders up to the end of 29 June; today by default."""
    if as_of is None:
        as_of = dt.date.today()
    if isinstance(as_of, str):
        try:
            as_of = dt.datetime.fromisoformat(as_of)
        except ValueError:
            raise TiersError(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD") from None
    if isinstance(as_of, dt.datetime):
        return as_of.replace(tzinfo=None)
    return dt.datetime(as_of.year, as_of.month, as_of.day)


def connect(engine: str = "duckdb") -> Any:
    """An Ibis backend for ``engine``."""
    import ibis

    if engine == "duckdb":
        return ibis.duckdb.connect()
    if engine == "pyspark":
        from tiers.core.spark import connect_spark

        return connect_spark()
    raise TiersError(f"unknown engine {engine!r}; use duckdb or pyspark")


@dataclass
class Evaluation:
    """The per-customer result as a lazy Ibis table, before anything is materialised."""

    ruleset: LoadedRuleset
    as_of: dt.datetime
    con: Any
    table: ir.Table
    metric_columns: list[str]
    policy_columns: dict[str, str]


def rank_column(policy_id: str) -> str:
    return f"rank_{policy_id}"


def combine(ranks: list[ir.IntegerValue], hit_policy: str) -> ir.IntegerValue:
    """Merge candidate ranks; NULL means the policy granted nothing."""
    import ibis

    if len(ranks) == 1:
        merged = ranks[0]
    elif hit_policy == "highest":
        merged = ibis.greatest(*ranks)  # NULLs are skipped on every backend
    elif hit_policy in ("lowest", "all"):
        # a policy that grants nothing fails the customer: "all must qualify"
        merged = ibis.least(*[r.fill_null(0) for r in ranks])
    elif hit_policy == "first":
        merged = ibis.coalesce(*ranks)
    else:
        raise TiersError(f"unknown hit policy {hit_policy!r}")
    return merged.fill_null(0).cast("int8")


def add_policy_columns(loaded: LoadedRuleset, tables: dict[str, ir.Table], table: ir.Table,
                       as_of: dt.datetime) -> ir.Table:
    """Join each policy's per-customer table, then add its output columns, in ruleset order."""
    from tiers.core.metrics import attach

    for policy in loaded.policies:
        extra = policy.customer_table(tables, as_of)
        if extra is not None:
            table = attach(table, extra)
        columns = policy.columns(table)
        if columns:
            table = table.mutate(**columns)
    return table


def evaluate(loaded: LoadedRuleset, as_of: Any = None, con: Any = None) -> Evaluation:
    import ibis

    from tiers.core.metrics import customer_metrics

    instant = as_of_instant(as_of if as_of is not None else loaded.model.as_of)
    con = con if con is not None else connect(loaded.model.engine)
    tables = {}
    for role, source in loaded.sources.items():
        tables[role] = source.load(con)
    table = customer_metrics(tables, loaded.metric_specs, instant)
    table = add_policy_columns(loaded, tables, table, instant)
    policy_columns = {}
    for policy in loaded.policies:
        if policy.output == "tier":
            col = rank_column(policy.id)
            table = table.mutate(**{col: policy.rank(table)})
            policy_columns[policy.id] = col
    ranks = [table[c] for c in policy_columns.values()]
    tier_rank = combine(ranks, loaded.model.combine) if ranks else ibis.literal(0, "int8")
    table = table.mutate(tier_rank=tier_rank)
    tier_ids = loaded.model.tier_ids()
    tier = ibis.cases(*[(table.tier_rank == i, t) for i, t in enumerate(tier_ids)],
                      else_=tier_ids[0])
    table = table.mutate(tier=tier)
    metric_columns = list(dict.fromkeys(s.column for s in loaded.metric_specs))
    return Evaluation(loaded, instant, con, table, metric_columns, policy_columns)


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

    @property
    def customers(self) -> int:
        return self.table.num_rows

    def export_columns(self) -> list[str]:
        return ["customer_id", "tier", *self.metric_columns]


def summarize(loaded: LoadedRuleset, table: pa.Table) -> list[TierSummary]:
    import pyarrow as pa
    import pyarrow.compute as pc

    spend = pc.cast(table["spend"], pa.float64())
    grouped = pa.table({"tier_rank": table["tier_rank"], "spend": spend}).group_by(
        "tier_rank").aggregate([("spend", "count"), ("spend", "sum")])
    by_rank = {r["tier_rank"]: r for r in grouped.to_pylist()}
    total_customers = table.num_rows or 1
    total_spend = sum(max(r["spend_sum"] or 0, 0) for r in by_rank.values()) or 1.0
    out = []
    for i, tier in enumerate(loaded.model.tiers):
        row = by_rank.get(i, {"spend_count": 0, "spend_sum": 0.0})
        n, s = row["spend_count"], row["spend_sum"] or 0.0
        out.append(TierSummary(tier.id, tier.label, n, n / total_customers, s,
                               max(s, 0) / total_spend))
    return out


def run(loaded: LoadedRuleset, as_of: Any = None, out: str | Path | None = None,
        con: Any = None) -> RunResult:
    """Evaluate ``loaded`` and materialise the result once; optionally write ``out``."""
    started = time.perf_counter()
    instant = as_of_instant(as_of if as_of is not None else loaded.model.as_of)
    loaded.pm.hook.run_started(ruleset=loaded.model, as_of=instant) if loaded.pm else None
    evaluation = evaluate(loaded, instant, con)
    try:
        table = evaluation.con.to_pyarrow(evaluation.table)
    except TiersError:
        raise
    except Exception as exc:
        raise DataError(f"the engine could not evaluate {loaded.file}: {exc}") from None
    timings = {"evaluate": time.perf_counter() - started}
    result = RunResult(loaded, instant, table, evaluation.metric_columns,
                       summarize(loaded, table), timings)
    if out is not None:
        write_table(table.select(result.export_columns()), Path(out))
    if loaded.pm:
        loaded.pm.hook.run_finished(ruleset=loaded.model, result=result)
    return result


def write_table(table: pa.Table, path: Path) -> None:
    """Write CSV or Parquet by suffix, atomically: a failed write leaves no half file."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise TiersError(f"--out {path}: unsupported file type {suffix!r}; use .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
