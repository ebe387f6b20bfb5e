"""Load N order rows from CSV and from Parquet through tiers' sources, and compare with DuckDB
reading the same file directly. Writes its section of docs/performance.md.

    python benchmarks/load_sources.py                 # 10,000,000 rows
    python benchmarks/load_sources.py --rows 1000000 --repeat 3

"Load" means: read the file, and compute count(*) and sum(amount) over the rows, so both sides
touch every row. tiers also parses amounts and dates, checks every row for rejects and applies
the duplicate policies; the `checks off` line shows the same load with duplicate checks off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "performance.md"
SECTION = "load_sources"

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


def duckdb_direct(kind: str, path: Path) -> tuple[int, float]:
    import duckdb

    reader = "read_csv" if kind == "csv" else "read_parquet"
    con = duckdb.connect()
    n, s = con.execute(f"SELECT count(*), sum(amount) FROM {reader}('{path}')").fetchone()
    con.close()
    return n, float(s)


def through_tiers(kind: str, path: Path, folder: Path, extra: str) -> tuple[int, float]:
    import ibis

    from tiers.core.plugins import get_plugin_manager
    from tiers.ruleset.loader import load_ruleset

    ruleset = folder / f"bench-{kind}.yaml"
    ruleset.write_text(RULESET.format(kind=kind, path=path, extra=extra), encoding="utf-8")
    pm, registry = get_plugin_manager(entry_points=False)
    loaded = load_ruleset(ruleset, registry=registry, pm=pm)
    con = ibis.duckdb.connect()
    table = loaded.sources["orders"].load(con)
    row = table.aggregate(n=table.count(), s=table.amount.sum()).to_pyarrow().to_pylist()[0]
    return row["n"], float(row["s"])


def write_section(text: str) -> None:
    begin, end = f"<!-- bench:{SECTION} -->", f"<!-- /bench:{SECTION} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None,
                        help="folder to keep the generated files in (default: a temp folder)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    folder = args.data or Path(tempfile.mkdtemp(prefix="tiers-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    csv_path, parquet_path = generate(folder, args.rows, args.customers)
    print(f"data: {args.rows:,} rows in {folder} ({time.perf_counter() - start:.1f} s; "
          f"CSV {csv_path.stat().st_size / 1e6:,.0f} MB, "
          f"Parquet {parquet_path.stat().st_size / 1e6:,.0f} MB)")

    checks_off = "duplicate_rows: allow\n    duplicate_order_ids: allow"
    lines = []
    for kind, path in (("csv", csv_path), ("parquet", parquet_path)):
        base_t, base = timed(lambda k=kind, p=path: duckdb_direct(k, p), args.repeat)
        full_t, full = timed(lambda k=kind, p=path: through_tiers(k, p, folder, ""),
                             args.repeat)
        off_t, off = timed(lambda k=kind, p=path: through_tiers(k, p, folder, checks_off),
                           args.repeat)
        for label, got in (("tiers", full), ("tiers, checks off", off)):
            if got[0] != base[0] or abs(got[1] - base[1]) > 0.01 * max(1.0, abs(base[1])):
                sys.exit(f"{kind} {label}: {got} differs from DuckDB's {base}")
        for label, seconds in (("DuckDB read directly", base_t), ("tiers source", full_t),
                               ("tiers source, duplicate checks off", off_t)):
            ratio = seconds / base_t
            lines.append(f"| {kind} | {label} | {seconds:.2f} | {ratio:.1f}x |")
            print(f"{kind:8} {label:36} {seconds:8.2f} s  {ratio:5.1f}x")

    when = dt.datetime.now().strftime("%Y-%m-%d")
    cpus = os.cpu_count()
    load = os.getloadavg()[0]
    text = f"""## Loading orders: tiers sources vs DuckDB directly

`python benchmarks/load_sources.py --rows {args.rows} --repeat {args.repeat}` on {when}:
{args.rows:,} order rows ({args.customers:,} customers), {cpus} CPUs, Python
{platform.python_version()}, median of {args.repeat} run(s), load average {load:.1f}
when writing (above the CPU count, other work shared the machine and the seconds are rough).

Both sides read the file and compute `count(*)` and `sum(amount)`. The tiers source also parses
amounts and dates, classifies every row for the rejects file, and (unless turned off) looks for
exact duplicate rows and duplicate order ids.

| file | how | seconds | vs DuckDB |
|---|---|---:|---:|
""" + "\n".join(lines) + "\n"
    if not args.no_write:
        write_section(text)
        print(f"wrote the {SECTION} section of {DOC}")


if __name__ == "__main__":
    main()
