"""State store write/read speed for many customers: record (bulk upsert + history) and
previous() on SQLite and, when TIERS_TEST_PG_URL is set, PostgreSQL.

    python benchmarks/bench_store.py [--customers 1000000]

Prints the figures and replaces the `store` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.compute as pc

from tiers.store.store import StateStore

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def result_table(n: int, shift: int) -> pa.Table:
    ids = pa.array([f"C{i:08d}" for i in range(n)])
    ranks = pc.cast(pc.bit_wise_and(pa.array(range(shift, n + shift)), 3), pa.int8())
    ranks = pc.if_else(pc.equal(ranks, 3), pa.scalar(2, pa.int8()), ranks)
    tiers = pc.choose(pc.cast(ranks, pa.int64()), "normal", "senior", "vip")
    return pa.table({"customer_id": ids, "tier": tiers, "tier_rank": ranks})


def bench(url: str, n: int) -> dict[str, float]:
    store = StateStore(url)
    out = {}
    for label, shift, day in (("first run (all rows new)", 0, 1),
                              ("second run (nothing changed)", 0, 2),
                              ("third run (25% changed)", 1, 3)):
        table = result_table(n, shift) if shift == 0 else _partly_changed(n)
        handle = store.begin_run("bench", "x", dt.datetime(2026, 1, day))
        res = SimpleNamespace(table=table, event_counts={}, run=handle)
        store._previous.pop("bench", None)
        t0 = time.perf_counter()
        store.previous_arrow("bench")
        t_prev = time.perf_counter() - t0
        t0 = time.perf_counter()
        info = store.record(res, None, handle)
        out[f"{label}: previous()"] = t_prev
        out[f"{label}: record ({info['changed']:,} rows written)"] = time.perf_counter() - t0
        store.finish_run(handle, "done")
    store.dispose()
    return out


def _partly_changed(n: int) -> pa.Table:
    base = result_table(n, 0)
    ranks = base["tier_rank"].to_numpy().copy()
    ranks[::4] = (ranks[::4] + 1) % 3
    ranks = pa.array(ranks, pa.int8())
    tiers = pc.choose(pc.cast(ranks, pa.int64()), "normal", "senior", "vip")
    return pa.table({"customer_id": base["customer_id"], "tier": tiers, "tier_rank": ranks})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    args = ap.parse_args()
    lines = [f"State store, {args.customers:,} customers (`python benchmarks/bench_store.py`):",
             "", "| store | step | seconds |", "|---|---|---|"]
    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/state.db")]
    pg = os.environ.get("TIERS_TEST_PG_URL")
    if pg:
        import sqlalchemy as sa

        engine = sa.create_engine(pg)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        targets.append(("PostgreSQL", pg))
    for name, url in targets:
        for step, secs in bench(url, args.customers).items():
            print(f"{name:10} {step:55} {secs:8.2f} s")
            lines.append(f"| {name} | {step} | {secs:.2f} |")
    section = "\n".join(lines)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    block = f"<!-- bench:store -->\n{section}\n<!-- /bench:store -->"
    pattern = re.compile(r"<!-- bench:store -->.*?<!-- /bench:store -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block + "\n")
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
