"""The hand-written DuckDB job tiers is measured against: same metrics, same tier CASE.

    python benchmarks/sql_duckdb.py ORDERS.parquet   # prints {"tier": customers, ...} as JSON

Materialises one row per customer as Arrow, like ``tiers run`` does, then counts tiers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import AS_OF, FREQUENCY, SPEND, TIERS, WINDOW_START


def rank_case(column: str, minimums: dict[str, float]) -> str:
    branches = " ".join(f"WHEN {column} >= {minimums[t]} THEN {TIERS.index(t)}"
                        for t in reversed(TIERS) if t in minimums)
    return f"CASE {branches} ELSE 0 END"


def query(path: str) -> str:
    as_of, start = f"TIMESTAMP '{AS_OF}'", f"TIMESTAMP '{WINDOW_START}'"
    tier_names = " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TIERS))
    return f"""
    WITH m AS (
      SELECT customer_id,
        coalesce(sum(amount) FILTER (WHERE order_ts >= {start}), 0) AS spend,
        count(*) FILTER (WHERE order_ts >= {start} AND amount >= 0) AS orders,
        CAST(sum(amount) FILTER (WHERE order_ts >= {start}) AS DOUBLE)
          / nullif(count(*) FILTER (WHERE order_ts >= {start} AND amount >= 0), 0)
          AS avg_order_value,
        (epoch_us({as_of}) - epoch_us(max(order_ts) FILTER (WHERE amount >= 0)))
          // 86400000000 AS recency_days,
        (epoch_us({as_of}) - epoch_us(min(order_ts))) // 86400000000 AS tenure_days,
        sum(amount) AS lifetime_spend,
        count(*) FILTER (WHERE amount >= 0) AS lifetime_orders
      FROM read_parquet('{path}')
      WHERE order_ts < {as_of}
      GROUP BY customer_id
    ), r AS (
      SELECT *, greatest({rank_case("spend", SPEND)}, {rank_case("orders", FREQUENCY)})
        AS tier_rank
      FROM m
    )
    SELECT *, CASE tier_rank {tier_names} END AS tier FROM r
    """


def main() -> None:
    con = duckdb.connect()
    table = con.execute(query(sys.argv[1])).to_arrow_table()
    counts = table.group_by("tier").aggregate([("tier", "count")]).to_pylist()
    print(json.dumps({r["tier"]: r["tier_count"] for r in counts}, sort_keys=True))


if __name__ == "__main__":
    main()
