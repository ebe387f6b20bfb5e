"""What a run changes in the stored state: one DuckDB query over the run's per-customer result
and the previous state, returning only the rows to write, in customer-id order.

The result is read where it is: the engine's own DuckDB table when the run has one (so an
unchanged re-run moves no customer rows to Python), else an Arrow table in an in-memory DuckDB.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

PREV = "tiers_prev_state"
RESULT = "tiers_run_result"


@dataclass(frozen=True)
class Staged:
    """A per-customer result held by DuckDB: its connection and its quoted table name."""

    duck: Any
    name: str


def state_changes(result: pa.Table | Staged, prev: pa.Table | None, as_of: dt.datetime,
                  run_id: int, ruleset: str) -> tuple[pa.Table, pa.Table]:
    """Rows of current_tiers to upsert (new or changed customers only) and tier_history rows
    to append (new customers and tier changes), both in customer-id order."""
    import duckdb
    import pyarrow as pa

    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(result, Staged):
        duck, source, own = result.duck, result.name, False
    else:
        duck, source, own = duckdb.connect(), RESULT, True
        duck.register(RESULT, result)
    if prev is None:
        ts = pa.timestamp("us")
        prev = pa.table({"customer_id": pa.array([], pa.string()),
                         "tier": pa.array([], pa.string()), "tier_rank": pa.array([], pa.int8()),
                         "since": pa.array([], ts), "held_until": pa.array([], ts),
                         "segments_text": pa.array([], pa.string())})
    duck.register(PREV, prev)
    try:
        types = {row[0]: row[1] for row in duck.execute(f"DESCRIBE {source}").fetchall()}
        # only the rows to write are kept, so the join runs once for both tables; they are
        # sorted once, as DuckDB keeps a table's order in a scan (preserve_insertion_order)
        duck.execute("CREATE OR REPLACE TEMP TABLE tiers_state_diff AS "
                     f"SELECT * FROM ({_diff_sql(source, types, as_of)}) "
                     "WHERE changed OR tier_changed ORDER BY customer_id")
        upserts = duck.execute(
            "SELECT ?::VARCHAR AS ruleset, customer_id, tier, tier_rank, since, held_until, "
            "segments, ?::INTEGER AS updated_run FROM tiers_state_diff WHERE changed",
            [ruleset, run_id]).to_arrow_table()
        history = duck.execute(
            "SELECT ?::VARCHAR AS ruleset, ?::INTEGER AS run_id, customer_id, "
            "p_tier AS from_tier, tier AS to_tier, event, ?::TIMESTAMP AS at "
            "FROM tiers_state_diff WHERE tier_changed", [ruleset, run_id, as_of]).to_arrow_table()
    finally:
        duck.execute("DROP TABLE IF EXISTS tiers_state_diff")
        duck.unregister(PREV)
        if own:
            duck.close()
    return upserts, history


def _diff_sql(source: str, types: dict[str, str], as_of: dt.datetime) -> str:
    """The joined rows, one per customer of the result."""

    def ts(name: str) -> str:
        if name not in types:
            return "NULL::TIMESTAMP"
        # an aware timestamp is kept as its UTC wall clock, as the engine's naive ones are
        kind = types[name].upper()
        col = f'r."{name}"'
        return f"timezone('UTC', {col})" if "TIME ZONE" in kind else f"{col}::TIMESTAMP"

    segments = ("coalesce(array_to_string(r.segments, chr(31)), '')" if "segments" in types
                else "''")
    event = "r.tier_event::VARCHAR" if "tier_event" in types else "NULL::VARCHAR"
    return f"""
        WITH j AS (
            SELECT r.customer_id::VARCHAR AS customer_id, r.tier::VARCHAR AS tier,
                   r.tier_rank::SMALLINT AS tier_rank, {ts("tier_since")} AS since_in,
                   {ts("held_until")} AS held_until, {segments} AS segments,
                   {event} AS event_in,
                   p.tier AS p_tier, p.tier_rank::SMALLINT AS p_rank, p.since AS p_since,
                   p.held_until AS p_held, p.segments_text AS p_segments,
                   r.tier::VARCHAR IS DISTINCT FROM p.tier AS tier_changed,
                   TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S.%f}' AS as_of
            FROM {source} r LEFT JOIN {PREV} p ON p.customer_id = r.customer_id::VARCHAR
        ), s AS (
            -- the engine's tier_since when it gives one; else kept while the tier is unchanged
            SELECT *, coalesce(since_in, CASE WHEN tier_changed THEN as_of ELSE p_since END,
                               as_of) AS since
            FROM j
        )
        SELECT *,
               tier_changed OR since IS DISTINCT FROM p_since
                   OR held_until IS DISTINCT FROM p_held
                   OR segments IS DISTINCT FROM p_segments AS changed,
               coalesce(event_in, CASE WHEN p_tier IS NULL THEN 'entered'
                                       WHEN tier_rank > p_rank THEN 'upgraded'
                                       ELSE 'downgraded' END) AS event
        FROM s"""
