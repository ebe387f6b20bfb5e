"""Seeded generator of retail-like data for the retail benchmark.

    python benchmarks/retail_generate.py 1M         # bench-data/retail_1M/*.parquet

Per size, in ``bench-data/retail_<size>/``:

- ``orders.parquet``: order_id, customer_id, order_ts, amount (decimal; 3 % refunds, negative),
  over the two years before as-of, skewed order counts per customer (as benchmarks/generate.py)
  and baskets around 180 (CNY), so many orders earn points;
- ``customers.parquet``: customer_id, email, signup_date, birthday (a tenth of the orders; some
  never order);
- ``surveys.parquet``: customer_id, ts, score (0-100; a fifth of the orders, answered by the
  active customers more often, each customer with their own mood);
- ``tier_history.parquet``: customer_id, tier, valid_from, valid_to (empty = still held): one or
  two back-to-back senior / vip intervals for a quarter of the customers, never overlapping.

Written in chunks with numpy and pyarrow, so memory stays flat whatever the size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import CHUNK, DAYS, END, SIZES, customer_ids, decimal_cents, order_weights
from measure import data_dir

ORDERS = pa.schema([("order_id", pa.int64()), ("customer_id", pa.string()),
                    ("order_ts", pa.timestamp("us")), ("amount", pa.decimal128(12, 2))])
START_US = int((END - dt.timedelta(days=DAYS)).timestamp() * 1_000_000)
DAY_US = 86_400 * 1_000_000


def size_name(text: str) -> str:
    """``1m`` -> ``1M``: sizes as generate.py names them, whatever the case."""
    for name in SIZES:
        if name.lower() == text.lower():
            return name
    raise SystemExit(f"unknown size {text!r}; use one of {', '.join(SIZES)}")


def folder(size: str) -> Path:
    return data_dir() / f"retail_{size}"


def order_batches(orders: int, seed: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    customers = max(orders // 10, 1)
    cum = order_weights(customers, rng)
    basket = rng.lognormal(mean=np.log(180.0), sigma=0.7, size=customers)
    span_us = DAYS * DAY_US
    done = 0
    while done < orders:
        n = min(CHUNK, orders - done)
        who = np.searchsorted(cum, rng.random(n), side="right").clip(0, customers - 1)
        lo = START_US + span_us * done // orders
        hi = START_US + span_us * (done + n) // orders
        ts = np.sort(rng.integers(lo, hi, size=n, dtype=np.int64))
        cents = np.maximum(np.round(rng.lognormal(np.log(basket[who]), 0.6) * 100), 1)
        cents = np.where(rng.random(n) < 0.03, -cents, cents).astype(np.int64)
        yield pa.record_batch([
            pa.array(np.arange(done + 1, done + n + 1, dtype=np.int64)),
            customer_ids(who), pa.array(ts, pa.timestamp("us")), decimal_cents(cents),
        ], schema=ORDERS)
        done += n


def customers_table(customers: int, rng: np.random.Generator) -> pa.Table:
    ids = customer_ids(np.arange(customers))
    end_day = np.datetime64(END.date(), "D")
    signup = end_day - rng.integers(1, DAYS + 365, size=customers).astype("timedelta64[D]")
    born = (np.datetime64("1950-01-01", "D")
            + rng.integers(0, 365 * 56, size=customers).astype("timedelta64[D]"))
    email = pc.binary_join_element_wise(pc.utf8_lower(ids), "@example.com", "")
    return pa.table({"customer_id": ids, "email": email,
                     "signup_date": pa.array(signup, pa.date32()),
                     "birthday": pa.array(born, pa.date32())})


def surveys_table(orders: int, customers: int, rng: np.random.Generator) -> pa.Table:
    n = max(orders // 5, 1)
    cum = order_weights(customers, np.random.default_rng(rng.integers(1 << 32)))
    who = np.searchsorted(cum, rng.random(n), side="right").clip(0, customers - 1)
    mood = rng.normal(86, 6, size=customers)
    score = np.clip(np.round(rng.normal(mood[who], 5)), 0, 100).astype(np.int64)
    ts = START_US + rng.integers(0, DAYS * DAY_US, size=n, dtype=np.int64)
    return pa.table({"customer_id": customer_ids(who), "ts": pa.array(ts, pa.timestamp("us")),
                     "score": pa.array(score)})


def history_table(customers: int, rng: np.random.Generator) -> pa.Table:
    """One or two back-to-back intervals per chosen customer: [from, to), the last one often
    still open (NULL valid_to)."""
    chosen = np.flatnonzero(rng.random(customers) < 0.25)
    k = len(chosen)
    start = rng.integers(0, DAYS - 120, size=k)
    first_len = rng.integers(30, 400, size=k)
    two = rng.random(k) < 0.4
    first_tier = np.where(rng.random(k) < 0.7, "senior", "vip")
    second_tier = np.where(first_tier == "senior", "vip", "senior")
    first_open = ~two & (rng.random(k) < 0.5)
    second_open = rng.random(k) < 0.6
    second_len = rng.integers(30, 300, size=k)
    day0 = np.datetime64((END - dt.timedelta(days=DAYS)).date(), "D")

    def day(offsets: np.ndarray) -> np.ndarray:
        return (day0 + offsets.astype("timedelta64[D]")).astype("datetime64[us]")

    first_end = start + first_len
    ids = np.concatenate([chosen, chosen[two]])
    tier = np.concatenate([first_tier, second_tier[two]])
    valid_from = np.concatenate([day(start), day(first_end[two])])
    to = np.concatenate([day(first_end), day(first_end[two] + second_len[two])])
    open_ = np.concatenate([first_open, second_open[two]])
    order = np.lexsort((valid_from, ids))
    return pa.table({
        "customer_id": customer_ids(ids[order]),
        "tier": pa.array(tier[order]),
        "valid_from": pa.array(valid_from[order], pa.timestamp("us")),
        "valid_to": pa.array(to[order], pa.timestamp("us"), mask=open_[order]),
    })


def generate(size: str, seed: int = 20261121, force: bool = False) -> Path:
    """Write the four tables for ``size`` (skipped when they exist); returns the folder."""
    out = folder(size)
    paths = {n: out / f for n, f in (("orders", "orders.parquet"),
                                     ("customers", "customers.parquet"),
                                     ("surveys", "surveys.parquet"),
                                     ("tier_history", "tier_history.parquet"))}
    if not force and all(p.exists() for p in paths.values()):
        return out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    orders = SIZES[size]
    customers = max(orders // 10, 1)
    tmp = paths["orders"].with_suffix(".parquet.tmp")
    with pq.ParquetWriter(tmp, ORDERS) as writer:
        for batch in order_batches(orders, seed):
            writer.write_batch(batch, row_group_size=1_000_000)
    tmp.replace(paths["orders"])
    rng = np.random.default_rng(seed + 7)
    pq.write_table(customers_table(customers, rng), paths["customers"])
    pq.write_table(surveys_table(orders, customers, rng), paths["surveys"])
    pq.write_table(history_table(customers, rng), paths["tier_history"])
    for path in paths.values():
        print(f"{path}: {path.stat().st_size / 1e6:,.1f} MB, "
              f"{pq.ParquetFile(path).metadata.num_rows:,} rows", file=sys.stderr)
    print(f"retail {size}: generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="+")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--force", action="store_true", help="regenerate existing files")
    args = parser.parse_args()
    for size in args.sizes:
        generate(size_name(size), args.seed, args.force)


if __name__ == "__main__":
    main()
