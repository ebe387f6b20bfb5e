"""Tier semantics at scale: tier conditions, maintenance, retention against a previous state,
segments and events, on DuckDB.

    python benchmarks/semantics.py 1M          # needs numpy (benchmarks/generate.py)

Evaluates a ruleset twice: a first run (no previous state), then a run six months later with
the first run's result as the previous state. Times building the lazy expression, fetching the
per-customer table and fetching the events table. Figures are printed and written to
docs/performance.md between the ``bench:semantics`` markers.
"""

from __future__ import annotations

import argparse
import platform
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RULESET = """\
name: bench-semantics
sources:
  orders: {{type: bench_parquet, path: {orders}}}
window: {{kind: rolling, days: 365}}
tiers:
  - {{id: basic}}
  - {{id: silver, qualify: "spend >= 500 or orders >= 10"}}
  - {{id: gold, qualify: "spend >= 2000 or orders >= 20", maintain: "spend >= 1600"}}
  - {{id: platinum, qualify: "spend >= 5000 or orders >= 50", maintain: "spend >= 4000"}}
policies:
  - type: expression
    id: labels
    segments:
      big_spender: max_order_value >= 500
      regular: orders >= 5
retention: {{hold: {{months: 12}}, max_drop: 1, grace_days: 30}}
events: {{at_risk: {{within_days: 30, margin: 0.1}}}}
"""


def main() -> None:
    import generate
    import ibis
    import parquet_plugin
    import pyarrow as pa
    from measure import write_section

    from tiers.core.plugins import get_plugin_manager
    from tiers.engine.backends import connect
    from tiers.engine.evaluate import evaluate
    from tiers.ruleset.loader import load_ruleset

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", nargs="?", default="1M", choices=list(generate.SIZES))
    parser.add_argument("--data", type=Path, default=generate.DEFAULT_OUT)
    args = parser.parse_args()
    orders = args.data / f"orders_{args.size}.parquet"
    if not orders.exists():
        generate.generate(args.size, args.data, ["parquet"], seed=1)
    path = args.data / f"semantics_{args.size}.yaml"
    path.write_text(RULESET.format(orders=orders), encoding="utf-8")
    pm, registry = get_plugin_manager(entry_points=False, extra_plugins=[parquet_plugin])
    loaded = load_ruleset(path, registry=registry, pm=pm)
    con = connect()

    rows = []

    def timed(label: str, as_of: str, previous: object) -> pa.Table:
        t0 = time.perf_counter()
        ev = evaluate(loaded, as_of, con, previous=previous)
        t1 = time.perf_counter()
        table = con.to_pyarrow(ev.table)
        t2 = time.perf_counter()
        events = con.to_pyarrow(ev.events)
        t3 = time.perf_counter()
        counts = events.group_by("event").aggregate([("event", "count")]).to_pylist()
        summary = ", ".join(f"{r['event']} {r['event_count']:,}"
                            for r in sorted(counts, key=lambda r: r["event"]))
        rows.append((label, table.num_rows, events.num_rows, t1 - t0, t2 - t1, t3 - t2,
                     summary))
        print(f"{label}: {table.num_rows:,} customers, {events.num_rows:,} events; build "
              f"{t1 - t0:.2f} s, table {t2 - t1:.2f} s, events {t3 - t2:.2f} s\n  {summary}")
        return table

    first = timed("first run (no previous state)", "2026-05-21", None)
    state = pa.table({"customer_id": first["customer_id"], "tier": first["tier"],
                      "tier_rank": first["tier_rank"], "since": first["tier_since"],
                      "held_until": first["held_until"], "segments": first["segments"]})
    timed("six months later, with previous state", "2026-11-21", ibis.memtable(state))

    body = textwrap.dedent(f"""\
        ## Tier semantics (`benchmarks/semantics.py {args.size}`)

        Tier `qualify`/`maintain` conditions, a segment policy, retention (12-month hold,
        30 grace days, soft landing) and events with the at-risk margin, on {orders.name};
        DuckDB, {platform.machine()}, Python {platform.python_version()}. The machine was
        shared with other jobs while measuring: treat the figures as an upper bound.

        | run | customers | events | build expression | fetch table | fetch events |
        |---|---|---|---|---|---|
        """)
    for label, n, e, b, t, ev, _ in rows:
        body += f"| {label} | {n:,} | {e:,} | {b:.2f} s | {t:.2f} s | {ev:.2f} s |\n"
    body += "\nEvents: " + "; ".join(f"{r[0]}: {r[6]}" for r in rows) + "\n"
    write_section("semantics", body)


if __name__ == "__main__":
    main()
