"""Seeded generator of realistic order data for the benchmarks.

    python benchmarks/generate.py 10M                 # bench-data/orders_10M.parquet + .csv
    python benchmarks/generate.py 100k 1M --format parquet

Per size: ``orders_<size>.parquet`` / ``.csv`` (order_id, customer_id, order_ts, amount) and
``customers_<size>.parquet`` (customer_id, signup_date). Customers are about a tenth of the
orders; how often a customer orders is heavily skewed (lognormal weights: most order once or
twice, a few hundreds of times); amounts are lognormal with 3 % refunds (negative amounts);
timestamps cover the two years before ``END`` with microseconds, in time order. The data is
written in chunks with numpy/pyarrow, so memory stays flat whatever the size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000, "100M": 100_000_000}
END = dt.datetime(2026, 11, 21)  # exclusive; the benchmark rulesets evaluate as of this day
DAYS = 730
CHUNK = 2_000_000
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "bench-data"
SCHEMA = pa.schema([
    ("order_id", pa.int64()),
    ("customer_id", pa.string()),
    ("order_ts", pa.timestamp("us")),
    ("amount", pa.decimal128(12, 2)),
])


def customer_ids(index: np.ndarray) -> pa.Array:
    """``C00000042``-style ids, built columnar."""
    digits = pc.utf8_lpad(pc.cast(pa.array(index + 1), pa.string()), 9, "0")
    return pc.binary_join_element_wise("C", digits, "")


def decimal_cents(cents: np.ndarray) -> pa.Array:
    """decimal(12, 2) from whole cents without a per-value conversion: a decimal128 is the
    unscaled integer as 16 little-endian bytes, so pair each int64 with its sign extension."""
    words = np.column_stack([cents, cents >> 63]).astype("<i8")
    return pa.Array.from_buffers(pa.decimal128(12, 2), len(cents),
                                 [None, pa.py_buffer(words.tobytes())])


def order_weights(customers: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative share of orders per customer: lognormal activity, so counts are skewed."""
    weights = rng.lognormal(mean=0.0, sigma=1.2, size=customers)
    cum = np.cumsum(weights)
    return cum / cum[-1]


def order_chunks(orders: int, seed: int):
    """Yield Arrow record batches of orders, oldest first."""
    rng = np.random.default_rng(seed)
    customers = max(orders // 10, 1)
    cum = order_weights(customers, rng)
    # customer i's basket size: some spend big on every order
    basket = rng.lognormal(mean=np.log(60.0), sigma=0.6, size=customers)
    start_us = int((END - dt.timedelta(days=DAYS)).timestamp() * 1_000_000)
    span_us = DAYS * 86_400 * 1_000_000
    # mix customers across the whole period: one random permutation of slots per chunk
    done = 0
    while done < orders:
        n = min(CHUNK, orders - done)
        who = np.searchsorted(cum, rng.random(n), side="right").clip(0, customers - 1)
        lo = start_us + span_us * done // orders
        hi = start_us + span_us * (done + n) // orders
        ts = np.sort(rng.integers(lo, hi, size=n, dtype=np.int64))
        cents = np.round(rng.lognormal(np.log(basket[who]), 0.5) * 100).astype(np.int64)
        cents = np.maximum(cents, 1)
        refund = rng.random(n) < 0.03
        cents = np.where(refund, -cents, cents)
        batch = pa.record_batch([
            pa.array(np.arange(done + 1, done + n + 1, dtype=np.int64)),
            customer_ids(who),
            pa.array(ts, pa.timestamp("us")),
            decimal_cents(cents),
        ], schema=SCHEMA)
        yield batch
        done += n


def customers_table(orders: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed + 1)
    customers = max(orders // 10, 1)
    end_day = np.datetime64(END.date(), "D")
    signup = end_day - rng.integers(1, DAYS + 365, size=customers).astype("timedelta64[D]")
    return pa.table({"customer_id": customer_ids(np.arange(customers)),
                     "signup_date": pa.array(signup, pa.date32())})


def generate(size: str, out: Path, formats: list[str], seed: int) -> list[Path]:
    orders = SIZES[size]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    pq_path, csv_path = out / f"orders_{size}.parquet", out / f"orders_{size}.csv"
    pq_writer = pq.ParquetWriter(pq_path, SCHEMA) if "parquet" in formats else None
    csv_writer = pacsv.CSVWriter(csv_path, SCHEMA) if "csv" in formats else None
    started = time.perf_counter()
    for batch in order_chunks(orders, seed):
        if pq_writer:
            pq_writer.write_batch(batch, row_group_size=1_000_000)
        if csv_writer:
            csv_writer.write_batch(batch)
    for writer, path in ((pq_writer, pq_path), (csv_writer, csv_path)):
        if writer:
            writer.close()
            written.append(path)
    cust_path = out / f"customers_{size}.parquet"
    pq.write_table(customers_table(orders, seed), cust_path)
    written.append(cust_path)
    took = time.perf_counter() - started
    for path in written:
        print(f"{path}: {path.stat().st_size / 1e6:,.1f} MB", file=sys.stderr)
    print(f"{size}: {orders:,} orders in {took:.1f} s", file=sys.stderr)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="+", choices=list(SIZES))
    parser.add_argument("--format", default="parquet,csv",
                        help="comma-separated: parquet, csv (default both)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = set(formats) - {"parquet", "csv"}
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}; use parquet and/or csv")
    for size in args.sizes:
        generate(size, args.out, formats, args.seed)


if __name__ == "__main__":
    main()
