"""Load N order rows from CSV and from Parquet through tiers' sources, and compare with DuckDB's
typed read of the same file, with and without the same row checks. Writes its section of
docs/performance.md.

    python benchmarks/load_sources.py                 # 10,000,000 rows
    python benchmarks/load_sources.py --rows 1000000 --repeat 3

"Load" means: read the file, and compute count(*) and sum(amount) over the rows, so every side
touches every row. tiers also parses amounts and dates, checks every row for rejects and applies
the duplicate policies; the `checks off` line shows the same load with duplicate checks off.
The files live in bench-data/load_sources_<rows>/ and are reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import LOAD_NOTE, data_dir, machine_line, save_result, write_section

SECTION = "load_sources"
CSV_TYPES = {"order_id": "VARCHAR", "customer_id": "VARCHAR", "ordered_at": "TIMESTAMP",
             "amount": "DECIMAL(18, 2)"}

RULESET = """\
name: bench
sources:
  orders:
    type: {kind}
    path: {path}
    columns: {{order_ts: ordered_at}}
    {extra}
tiers: [{{id: normal}}, {{id: vip}}]
policies: [{{type: spend, thresholds: {{vip: 1000}}}}]
"""


def generate(folder: Path, rows: int, customers: int) -> tuple[Path, Path]:
    """Seeded synthetic orders (same rows every time): CSV and Parquet."""
    import duckdb

    csv_path, parquet_path = folder / "orders.csv", folder / "orders.parquet"
    if csv_path.exists() and parquet_path.exists():
        return csv_path, parquet_path
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE orders AS
        SELECT 'O' || lpad(CAST(i AS VARCHAR), 9, '0') AS order_id,
               'C' || lpad(CAST(hash(i * 7919) % {customers} AS VARCHAR), 7, '0')
                   AS customer_id,
               TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i * 104729) % 63072000 AS BIGINT))
                   AS ordered_at,
               CAST((hash(i * 1299709) % 200000) / 100.0 + 1 AS DECIMAL(12, 2)) AS amount
        FROM range({rows}) t(i)""")
    con.execute(f"COPY orders TO '{csv_path}' (HEADER, DELIMITER ',')")
    con.execute(f"COPY orders TO '{parquet_path}' (FORMAT parquet)")
    con.close()
    return csv_path, parquet_path


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def duckdb_direct(kind: str, path: Path, checks: bool = True) -> tuple[int, float]:
    """DuckDB reading the file with the column types declared (a typed read), and with
    ``checks`` the same row checks the tiers source makes on clean data: per reject reason
    (missing id, missing amount, absurd amount, missing or future date) and the distinct order
    ids against the rows, which rules out duplicate rows and duplicate order ids."""
    import duckdb

    if kind == "csv":
        types = ", ".join(f"'{c}': '{t}'" for c, t in CSV_TYPES.items())
        source = f"read_csv('{path}', header = true, columns = {{{types}}})"
    else:
        source = f"read_parquet('{path}')"
    future = dt.datetime.now() + dt.timedelta(days=1)
    check_cols = f"""
        count(*) FILTER (WHERE customer_id IS NULL OR trim(customer_id) = '') AS no_id,
        count(*) FILTER (WHERE amount IS NULL) AS no_amount,
        count(*) FILTER (WHERE abs(amount) > 1e9) AS too_large,
        count(*) FILTER (WHERE ordered_at IS NULL) AS no_ts,
        count(*) FILTER (WHERE ordered_at > TIMESTAMP '{future:%Y-%m-%d %H:%M:%S}') AS future,
        count(DISTINCT order_id) AS ids,""" if checks else ""
    con = duckdb.connect()
    row = con.execute(f"SELECT {check_cols} count(*) AS n, sum(amount) AS s "
                      f"FROM {source}").fetchone()
    con.close()
    if checks and (any(row[:5]) or row[5] != row[6]):
        sys.exit(f"{path}: DuckDB's checks found bad or duplicate rows: {row}")
    return row[-2], float(row[-1])


def through_tiers(kind: str, path: Path, folder: Path, extra: str) -> tuple[int, float]:
    """Load the file through the ruleset's source, the public way, then the same aggregate."""
    import ibis

    import tiers

    ruleset = folder / f"bench-{kind}.yaml"
    ruleset.write_text(RULESET.format(kind=kind, path=path, extra=extra), encoding="utf-8")
    loaded = tiers.load_ruleset(ruleset)
    con = ibis.duckdb.connect()
    table = loaded.sources["orders"].load(con)
    row = table.aggregate(n=table.count(), s=table.amount.sum()).to_pyarrow().to_pylist()[0]
    return row["n"], float(row["s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None,
                        help="folder to keep the generated files in (default: a temp folder)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    folder = args.data or data_dir() / f"load_sources_{args.rows}"
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    csv_path, parquet_path = generate(folder, args.rows, args.customers)
    print(f"data: {args.rows:,} rows in {folder} ({time.perf_counter() - start:.1f} s; "
          f"CSV {csv_path.stat().st_size / 1e6:,.0f} MB, "
          f"Parquet {parquet_path.stat().st_size / 1e6:,.0f} MB)")

    import ibis

    import tiers  # noqa: F401  (imports and DuckDB's start are not what is measured)

    ibis.duckdb.connect().raw_sql("SELECT 1")
    checks_off = "duplicate_rows: allow\n    duplicate_order_ids: allow"
    lines, summary, figures = [], [], {"rows": args.rows}
    for kind, path in (("csv", csv_path), ("parquet", parquet_path)):
        plain_t, plain = timed(lambda k=kind, p=path: duckdb_direct(k, p, checks=False),
                               args.repeat)
        base_t, base = timed(lambda k=kind, p=path: duckdb_direct(k, p), args.repeat)
        full_t, full = timed(lambda k=kind, p=path: through_tiers(k, p, folder, ""),
                             args.repeat)
        off_t, off = timed(lambda k=kind, p=path: through_tiers(k, p, folder, checks_off),
                           args.repeat)
        for label, got in (("DuckDB, no checks", plain), ("tiers", full),
                           ("tiers, checks off", off)):
            if got[0] != base[0] or abs(got[1] - base[1]) > 0.01 * max(1.0, abs(base[1])):
                sys.exit(f"{kind} {label}: {got} differs from DuckDB's {base}")
        for label, seconds in (("DuckDB typed read, no checks", plain_t),
                               ("DuckDB typed read with the same checks", base_t),
                               ("tiers source", full_t),
                               ("tiers source, duplicate checks off", off_t)):
            ratio = seconds / base_t
            lines.append(f"| {kind} | {label} | {seconds:.2f} | {ratio:.1f}x |")
            print(f"{kind:8} {label:40} {seconds:8.2f} s  {ratio:5.1f}x")
        figures[kind] = {"duckdb_plain": plain_t, "duckdb_checks": base_t, "tiers": full_t,
                         "tiers_no_duplicate_checks": off_t}
        summary.append(f"{kind}: tiers source {full_t / base_t:.1f}x DuckDB with the same "
                       "checks" + (" (target <= 4x)" if kind == "csv" else ""))

    text = f"""## Loading orders: tiers sources vs DuckDB's typed read

`python benchmarks/load_sources.py --rows {args.rows} --repeat {args.repeat}` ({machine_line()}
when writing): {args.rows:,} order rows ({args.customers:,} customers), median of
{args.repeat} run(s), in one process (no start-up counted).

Every line reads the file and computes `count(*)` and `sum(amount)`. DuckDB reads with the
column types declared (CSV: `read_csv(..., columns = {{...}})`); "with the same checks" adds what
the tiers source checks on a clean file: a count per reject reason (missing customer id,
missing amount, absurd amount, missing or future date) and the distinct order ids against the
rows (duplicate rows and duplicate order ids). The tiers source also parses the amounts and
dates from text itself, numbers every row by file and line for the rejects file, and hands the
engine a checked lazy table.

| file | how | seconds | vs DuckDB with checks |
|---|---|---:|---:|
""" + "\n".join(lines) + "\n\n" + "; ".join(summary) + ". " + LOAD_NOTE + "\n"
    print(text)
    if not args.no_write:
        save_result(SECTION, figures)
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
