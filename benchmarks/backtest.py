"""Benchmark: `tiers backtest` over 12 monthly periods on 1M orders.

    python benchmarks/backtest.py [--orders 1000000] [--periods 12]

Uses the shared generator (benchmarks/generate.py, needs numpy) for its sizes (100k, 1M...),
else generates seeded order data with DuckDB (every value a hash of the row number), under
bench-data/; then runs the
backtest in-process the way the command does (one connection, sources loaded once, one query
per period, state carried as Arrow), and replaces the `backtest` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench-data"
DOC = REPO / "docs" / "performance.md"
MARK = "backtest"
END = dt.datetime(2026, 11, 21)

RULESET = """\
name: bench_backtest
sources:
  orders: {{type: {source}, path: {orders}}}
window: {{kind: rolling, days: 365}}
retention: {{hold: {{months: 3}}, max_drop: 1}}
tiers: [{{id: basic}}, {{id: silver}}, {{id: gold}}, {{id: platinum}}]
policies:
  - type: spend
    thresholds: {{silver: 500, gold: 2000, platinum: 5000}}
  - type: frequency
    thresholds: {{silver: 10, gold: 20, platinum: 50}}
combine: highest
"""


def generate(orders: int, path: Path) -> float:
    """Orders over the two years before END: customers ~ orders / 10, skewed towards low ids
    (a few order often), lognormal-like amounts, 3 % refunds. Returns seconds taken."""
    import duckdb

    started = time.perf_counter()
    customers = max(orders // 10, 1)
    span = 730 * 86_400
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    # u(i, k): a uniform in [0, 1) from a hash of the row number; deterministic everywhere
    con.execute(f"""
        COPY (
          WITH r AS (
            SELECT i,
                   (hash(i * 3 + 1) % 1000000) / 1000000.0 AS u1,
                   (hash(i * 3 + 2) % 1000000) / 1000000.0 AS u2,
                   (hash(i * 3 + 3) % 1000000) / 1000000.0 AS u3
            FROM range({orders}) t(i))
          SELECT i AS order_id,
                 'C' || lpad(CAST(CAST(floor({customers} * u1 * u1) AS BIGINT) AS VARCHAR),
                             9, '0') AS customer_id,
                 TIMESTAMP '{END:%Y-%m-%d}' - INTERVAL '{span} seconds'
                   + to_microseconds(CAST(floor(i * ({span}.0 * 1e6 / {orders})) AS BIGINT))
                   AS order_ts,
                 CAST(round(CASE WHEN u3 < 0.03 THEN -1 ELSE 1 END
                            * exp(ln(60) + 1.1 * (u2 - 0.5) * 3.4), 2) AS DECIMAL(12, 2))
                   AS amount
          FROM r ORDER BY i
        ) TO '{path}' (FORMAT parquet)""")
    return time.perf_counter() - started


def shared_data(orders: int) -> tuple[Path | None, float, str]:
    """Orders from benchmarks/generate.py when it offers this size and numpy is there."""
    import importlib.util
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import generate as shared  # benchmarks/generate.py
    except ImportError:
        return None, 0.0, ""
    finally:
        sys.path.pop(0)
    size = next((k for k, v in shared.SIZES.items() if v == orders), None)
    if size is None or importlib.util.find_spec("numpy") is None:
        return None, 0.0, ""
    path = DATA / f"orders_{size}.parquet"
    seconds = 0.0
    if not path.exists():
        started = time.perf_counter()
        subprocess.run([sys.executable, str(Path(shared.__file__)), size, "--format",
                        "parquet", "--out", str(DATA)], check=True)
        seconds = time.perf_counter() - started
    return path, seconds, "benchmarks/generate.py"


def write_section(text: str) -> None:
    start, end = f"<!-- bench:{MARK} -->", f"<!-- /bench:{MARK} -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        doc = head + block + tail.lstrip("\n")
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(doc, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=12)
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()

    from tiers.core.plugins import get_plugin_manager
    from tiers.engine.backends import connect
    from tiers.ruleset.loader import load_ruleset
    from tiers.whatif.backtest import backtest, schedule

    orders, gen_s, generator = shared_data(args.orders)
    if orders is None:
        generator = "a seeded DuckDB generator"
        orders = DATA / f"backtest_orders_{args.orders}.parquet"
        gen_s = generate(args.orders, orders) if not orders.exists() else 0.0
    ruleset = DATA / "backtest.yaml"
    pm, registry = get_plugin_manager(entry_points=False)
    source = "parquet" if registry.get("source", "parquet") else "csv"
    if source == "csv":  # the CSV source is the only one on this install
        csv_path = orders.with_suffix(".csv")
        if not csv_path.exists():
            import duckdb

            duckdb.connect().execute(f"COPY (SELECT * FROM '{orders}') TO '{csv_path}'")
        orders = csv_path
    ruleset.write_text(RULESET.format(source=source, orders=orders), encoding="utf-8")
    loaded = load_ruleset(ruleset, registry=registry, pm=pm)

    # the first of each month, the last one just before the data ends
    dates = schedule(dt.date(END.year - 3, 1, 1), END.date(), "month")[-args.periods:]

    con = connect()
    started = time.perf_counter()
    result = backtest(loaded, dates, con)
    total = time.perf_counter() - started
    secs = [p.seconds for p in result.periods]
    customers = result.periods[-1].customers
    kept = sum(p.protected_total for p in result.periods)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu = f"{os.cpu_count()} cores, {platform.machine()}, load average {load:.1f} at the end"
    lines = [
        "## Backtest",
        "",
        f"`python benchmarks/backtest.py` ({dt.date.today()}, {cpu}, DuckDB, "
        f"{source} source): `tiers backtest` in-process over {args.periods} monthly periods "
        f"({dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}) on {args.orders:,} orders from "
        f"{generator} "
        f"({customers:,} customers by the last period), with a 3-month hold and a one-level "
        "soft landing, so each period reads the previous one's state.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| whole backtest ({args.periods} periods) | **{total:.2f} s** |",
        f"| first period (loads the orders into the engine once) | {secs[0]:.2f} s |",
        f"| later periods, median (min-max) | {statistics.median(secs[1:]):.2f} s "
        f"({min(secs[1:]):.2f}-{max(secs[1:]):.2f}) |" if len(secs) > 1 else None,
        f"| customers kept above their earned tier, summed over periods | {kept:,} |",
        f"| data generation (not included above) | {gen_s:.1f} s |" if gen_s else None,
        "",
        "Each period is one engine query over the orders already loaded on the connection; "
        "its result comes back as a small Arrow table (one row per customer, about ten "
        "columns) that becomes the next period's previous state. Nothing re-reads the files "
        "or restarts per period. A load average above the core count means other work "
        "shared the machine and the times are upper bounds.",
    ]
    text = "\n".join(line for line in lines if line is not None)
    print(text)
    if not args.no_doc:
        write_section(text)
        print(f"\nupdated {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
