"""The pandas notebook tiers is measured against, written the way a careful analyst would:
vectorised, Arrow-backed reads, amounts in whole cents so tier edges are exact.

    python benchmarks/pandas_job.py ORDERS.parquet   # prints {"tier": customers, ...} as JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import AS_OF, FREQUENCY, SPEND, TIERS, WINDOW_START

DAY_US = 86_400_000_000


def rank(values: pd.Series, minimums: dict[str, float], scale: int = 1) -> np.ndarray:
    ladder = [(TIERS.index(t), minimums[t] * scale) for t in reversed(TIERS) if t in minimums]
    return np.select([values >= m for _, m in ladder], [r for r, _ in ladder], 0)


def main() -> None:
    df = pd.read_parquet(sys.argv[1], columns=["customer_id", "order_ts", "amount"],
                         dtype_backend="pyarrow")
    ts = df["order_ts"].to_numpy().astype("datetime64[us]").astype(np.int64)
    as_of_us = int(pd.Timestamp(AS_OF).value // 1000)
    start_us = int(pd.Timestamp(WINDOW_START).value // 1000)
    keep = ts < as_of_us
    cents = np.round(df["amount"].astype("float64[pyarrow]").to_numpy() * 100).astype(np.int64)
    cents, ts = cents[keep], ts[keep]
    inw, purchase = ts >= start_us, cents >= 0
    frame = pd.DataFrame({
        "customer_id": df["customer_id"][keep].reset_index(drop=True),
        "spend_c": np.where(inw, cents, 0),
        "orders": inw & purchase,
        "last_us": np.where(purchase, ts, np.iinfo(np.int64).min),
        "first_us": ts,
        "lifetime_c": cents,
        "lifetime_orders": purchase,
    })
    m = frame.groupby("customer_id", sort=False).agg(
        spend_c=("spend_c", "sum"), orders=("orders", "sum"), last_us=("last_us", "max"),
        first_us=("first_us", "min"), lifetime_c=("lifetime_c", "sum"),
        lifetime_orders=("lifetime_orders", "sum"))
    m["spend"] = m["spend_c"] / 100
    m["avg_order_value"] = m["spend"] / m["orders"].replace(0, np.nan)
    has_purchase = m["last_us"] > np.iinfo(np.int64).min
    m["recency_days"] = ((as_of_us - m["last_us"]) // DAY_US).where(has_purchase)
    m["tenure_days"] = (as_of_us - m["first_us"]) // DAY_US
    m["tier_rank"] = np.maximum(rank(m["spend_c"], SPEND, 100), rank(m["orders"], FREQUENCY))
    m["tier"] = np.asarray(TIERS)[m["tier_rank"].to_numpy()]
    counts = m["tier"].value_counts()
    print(json.dumps({t: int(n) for t, n in counts.items()}, sort_keys=True))


if __name__ == "__main__":
    main()
