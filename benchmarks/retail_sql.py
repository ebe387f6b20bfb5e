"""The hand-written DuckDB job the retail ruleset is measured against: the same tiers, points
and segments, written as one SQL query the way a careful analyst would.

    python benchmarks/retail_sql.py FOLDER OUT.parquet   # prints {"tier": customers, ...}

FOLDER holds the tables of benchmarks/retail_generate.py. Like `tiers run --out`, it fetches one
row per customer as Arrow and writes it to Parquet; the definitions follow tiers' own (see
docs/policies/ and the policy code): windows are half-open [start, as-of), refunds are negative
amounts that reduce spend and take back points, a refund is not an order, day counts are whole
days elapsed (floor).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retail_common import (
    AS_OF,
    BANDS,
    CHURNED_DAYS,
    DORMANT_DAYS,
    EXPIRE_MONTHS,
    FILES,
    FREQUENCY,
    MULTIPLIERS,
    NEW_DAYS,
    POINTS_PER,
    POINTS_THRESHOLDS,
    RETURNING,
    SPEND,
    TIERS,
    WINDOW_START,
    expire_start,
)

# segment labels are stored joined by this character (as tiers' state store does)
SEP = "\x1f"


def ladder(column: str, minimums: dict[str, float]) -> str:
    """Rank of the highest tier whose minimum ``column`` reaches; NULL below all of them."""
    branches = " ".join(f"WHEN {column} >= {minimums[t]} THEN {TIERS.index(t)}"
                        for t in reversed(TIERS) if t in minimums)
    return f"CASE {branches} END"


def bands(column: str) -> str:
    branches = []
    for tier, lo, hi in BANDS:
        cond = f"{column} >= {lo}" + (f" AND {column} < {hi}" if hi is not None else "")
        branches.append(f"WHEN {cond} THEN {TIERS.index(tier)}")
    return f"CASE {' '.join(branches)} END"


def query(folder: Path) -> str:
    f = {k: str(folder / v) for k, v in FILES.items()}
    as_of, start = f"TIMESTAMP '{AS_OF}'", f"TIMESTAMP '{WINDOW_START}'"
    expire = f"TIMESTAMP '{expire_start()}'"
    assert EXPIRE_MONTHS  # the balance counts orders since `expire`
    mult = " ".join(f"WHEN '{t}' THEN {float(m)}" for t, m in MULTIPLIERS.items())
    label, min_orders, min_spend = RETURNING
    tier_names = " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TIERS))
    secs = "(epoch_us({}) // 1000000)"   # whole seconds, truncated (lifecycle's day counts)
    return f"""
    WITH orders AS (
      SELECT customer_id, order_ts, amount FROM read_parquet('{f["orders"]}')
      WHERE order_ts < {as_of}
    ), customers AS (
      SELECT customer_id, signup_date FROM read_parquet('{f["customers"]}')
      WHERE signup_date IS NULL OR CAST(signup_date AS TIMESTAMP) < {as_of}
    ), history AS (
      SELECT customer_id, tier, valid_from,
             coalesce(valid_to, TIMESTAMP '9999-12-31') AS valid_to
      FROM read_parquet('{f["tier_history"]}')
    ), per_order AS (
      -- points: the tier in force when the order was placed, from [valid_from, valid_to)
      SELECT o.customer_id, o.order_ts, o.amount,
        CAST(floor(CAST(floor(abs(CAST(o.amount AS DOUBLE)) / {POINTS_PER}) AS BIGINT)
                   * CAST(sign(CAST(o.amount AS DOUBLE)) AS BIGINT)
                   * CASE h.tier {mult} ELSE 1.0 END) AS BIGINT) AS pts
      FROM orders o LEFT JOIN history h
        ON o.customer_id = h.customer_id AND o.order_ts >= h.valid_from
           AND o.order_ts < h.valid_to
    ), agg AS (
      SELECT customer_id,
        sum(amount) FILTER (WHERE order_ts >= {start}) AS spend,
        count(*) FILTER (WHERE order_ts >= {start} AND amount >= 0) AS orders,
        min(order_ts) AS first_order_ts,
        max(order_ts) FILTER (WHERE amount >= 0) AS last_purchase,
        min(order_ts) FILTER (WHERE amount >= 0) AS first_purchase,
        sum(pts) FILTER (WHERE order_ts >= {expire}) AS points_balance,
        sum(pts) FILTER (WHERE order_ts >= {start}) AS points_earned
      FROM per_order GROUP BY customer_id
    ), prev AS (
      -- the purchase before the latest one, for "returning" (a gap of dormant_days or more)
      SELECT o.customer_id, max(o.order_ts) AS prev_purchase
      FROM orders o JOIN agg a ON o.customer_id = a.customer_id
      WHERE o.amount >= 0 AND o.order_ts < a.last_purchase
      GROUP BY o.customer_id
    ), surveys AS (
      SELECT customer_id, avg(score) FILTER (WHERE ts >= {start}) AS satisfaction
      FROM read_parquet('{f["surveys"]}') WHERE ts < {as_of} GROUP BY customer_id
    ), ids AS (
      SELECT customer_id FROM agg UNION SELECT customer_id FROM customers
    ), m AS (
      SELECT i.customer_id,
        coalesce(a.spend, 0) AS spend,
        coalesce(a.orders, 0) AS orders,
        CAST(a.spend AS DOUBLE) / nullif(a.orders, 0) AS avg_order_value,
        (epoch_us({as_of}) - epoch_us(a.last_purchase)) // 86400000000 AS recency_days,
        (epoch_us({as_of}) - epoch_us(least(a.first_order_ts,
                                            CAST(c.signup_date AS TIMESTAMP))))
          // 86400000000 AS tenure_days,
        s.satisfaction,
        coalesce(a.points_balance, 0) AS points_balance,
        coalesce(a.points_earned, 0) AS points_earned,
        ({secs.format(as_of)} - {secs.format("a.first_purchase")}) // 86400 AS first_days,
        ({secs.format("a.last_purchase")} - {secs.format("p.prev_purchase")}) // 86400
          AS gap_days
      FROM ids i
      LEFT JOIN customers c ON c.customer_id = i.customer_id
      LEFT JOIN agg a ON a.customer_id = i.customer_id
      LEFT JOIN prev p ON p.customer_id = i.customer_id
      LEFT JOIN surveys s ON s.customer_id = i.customer_id
    ), r AS (
      SELECT *,
        coalesce(greatest({ladder("spend", SPEND)}, {ladder("orders", FREQUENCY)},
                          {bands("satisfaction")},
                          {ladder("points_balance", POINTS_THRESHOLDS)}), 0) AS tier_rank,
        CASE WHEN recency_days IS NULL THEN 'prospect'
             WHEN recency_days >= {CHURNED_DAYS} THEN 'churned'
             WHEN recency_days >= {DORMANT_DAYS} THEN 'dormant'
             WHEN first_days < {NEW_DAYS} THEN 'new'
             WHEN gap_days >= {DORMANT_DAYS} THEN 'returning'
             ELSE 'active' END AS lifecycle_state
      FROM m
    )
    SELECT customer_id, CASE tier_rank {tier_names} END AS tier, tier_rank,
      spend, orders, avg_order_value, recency_days, tenure_days, satisfaction,
      points_balance, points_earned, lifecycle_state,
      concat_ws('{SEP}', CASE WHEN orders >= {min_orders} AND spend > {min_spend}
                              THEN '{label}' END, lifecycle_state) AS segments
    FROM r
    """


def main() -> None:
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    con = duckdb.connect()
    table = con.execute(query(folder)).to_arrow_table()
    pq.write_table(table, out)
    counts = table.group_by("tier").aggregate([("tier", "count")]).to_pylist()
    print(json.dumps({r["tier"]: r["tier_count"] for r in counts}, sort_keys=True))


if __name__ == "__main__":
    main()
