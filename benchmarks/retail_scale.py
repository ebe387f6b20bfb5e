"""The retail ruleset at scale: `tiers run` (dry run, and recorded in a SQLite state store)
against a hand-written DuckDB SQL job computing the same tiers, on generated data.

    python benchmarks/retail_scale.py 1M          # 3 runs per contender, median kept
    python benchmarks/retail_scale.py 10M --repeat 1

Per size: the data of benchmarks/retail_generate.py (made when missing) and the ruleset of
benchmarks/retail_common.py, written beside it. Contenders, each one process timed from spawn
to exit with its peak resident memory:

- `tiers run --dry-run` (no state store; a dry run writes no `--out` file);
- `benchmarks/retail_sql.py` (one DuckDB query, Arrow fetch, Parquet written);
- `tiers run --out` recording into a fresh SQLite store (first run), then the same command again
  with nothing changed (re-run); the stages each run wrote into the store's `runs.timings` are
  read back with `tiers runs --json`.

Checks, or the script fails: every contender's tier counts are identical; per customer, the tier
and the metrics tiers wrote with `--out` equal the SQL's, and the tier and segments the recorded
run left in the store equal the SQL's. Figures are printed and written to docs/performance.md
between the ``bench:retail-<size>`` markers.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import (
    HERE,
    LOAD_NOTE,
    Measured,
    child_env,
    machine_line,
    median_run,
    ratio,
    repeated,
    run_process,
    save_result,
    tiers_cmd,
    write_section,
)
from retail_common import ruleset_yaml
from retail_generate import generate, size_name

DRY, SQL, FIRST, RERUN = ("tiers run --dry-run", "DuckDB SQL", "tiers run, first recorded run",
                          "tiers run, unchanged re-run")
STAGES = ("previous", "evaluate", "plan", "record", "apply")
# metrics `tiers run --out` writes, compared with the SQL's (floats within 1e-9)
EXACT = ("tier", "spend", "orders", "recency_days", "tenure_days")
FLOATS = ("avg_order_value", "satisfaction")


def tier_counts(m: Measured) -> dict[str, int]:
    data = json.loads(m.stdout[m.stdout.index("{"):])
    if "tiers" in data:  # `tiers run --format json`
        return {t["tier"]: t["customers"] for t in data["tiers"] if t["customers"]}
    return {k: v for k, v in data.items() if v}


def recorded_timings(state: Path) -> list[dict]:
    """The runs of the store, oldest first, as `tiers runs --json` lists them."""
    m = run_process("tiers runs", tiers_cmd("runs", "--state", str(state), "--json", "-n", "50"))
    return list(reversed(json.loads(m.stdout)))


def check_rows(tiers_out: Path, sql_out: Path) -> int:
    """Per-customer differences between tiers' --out file and the SQL's (0 expected)."""
    con = duckdb.connect()
    conds = [f"t.{c} IS DISTINCT FROM s.{c}" for c in EXACT] + [
        f"(t.{c} IS NULL) <> (s.{c} IS NULL) OR abs(t.{c} - s.{c}) > 1e-9" for c in FLOATS]
    diff = con.execute(f"""
        SELECT count(*) FILTER (WHERE t.customer_id IS NULL OR s.customer_id IS NULL
                                   OR {" OR ".join(conds)}),
               count(*)
        FROM read_parquet('{tiers_out}') t
        FULL JOIN read_parquet('{sql_out}') s USING (customer_id)""").fetchone()
    if diff[0]:
        sample = con.execute(f"""
            SELECT * FROM read_parquet('{tiers_out}') t
            FULL JOIN read_parquet('{sql_out}') s USING (customer_id)
            WHERE t.customer_id IS NULL OR s.customer_id IS NULL OR {" OR ".join(conds)}
            LIMIT 5""").fetch_arrow_table().to_pylist()
        raise SystemExit(f"{diff[0]:,} of {diff[1]:,} customers differ between {tiers_out} "
                         f"and {sql_out}, e.g. {sample}")
    return diff[1]


def check_store(state: Path, ruleset: str, sql_out: Path) -> int:
    """Tier and segments per customer in the store's current_tiers (docs/state-store.md)
    against the SQL's; returns the customers compared."""
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT customer_id, tier, segments FROM current_tiers "
                          "WHERE ruleset = ?", (ruleset,)).fetchall()
    stored = pa.table({"customer_id": [r[0] for r in rows], "tier": [r[1] for r in rows],
                       "segments": [r[2] for r in rows]})
    con = duckdb.connect()
    con.register("stored", stored)
    bad, total = con.execute(f"""
        SELECT count(*) FILTER (WHERE t.customer_id IS NULL OR s.customer_id IS NULL
                                   OR t.tier <> s.tier OR t.segments <> s.segments),
               count(*)
        FROM stored t FULL JOIN read_parquet('{sql_out}') s USING (customer_id)""").fetchone()
    if bad:
        raise SystemExit(f"{bad:,} of {total:,} customers have another tier or other segments "
                         f"in the state store than in the SQL's result")
    return total


def bench(size: str, repeat: int) -> dict:
    folder = generate(size)
    ruleset = folder / "retail_bench.yaml"
    ruleset.write_text(ruleset_yaml(), encoding="utf-8")
    work = Path(tempfile.mkdtemp(prefix=f"tiers-retail-{size}-"))
    env = child_env()
    rows = sum(duckdb.sql(f"SELECT count(*) FROM '{folder / 'orders.parquet'}'").fetchone())
    print(f"retail {size}: {rows:,} orders in {folder}", file=sys.stderr)

    sql_out, run_out = work / "sql.parquet", work / "run.parquet"
    # a dry run with a store that does not exist: nothing is read, created or written (its
    # tier counts are checked; the recorded runs' --out file, each customer's row)
    dry = repeated(DRY, tiers_cmd("run", str(ruleset), "--dry-run", "--format", "json",
                                  "--state", str(work / "none.db")), repeat, env)
    sql = repeated(SQL, [sys.executable, str(HERE / "retail_sql.py"), str(folder),
                         str(sql_out)], repeat, env)
    firsts, reruns, timings = [], [], []
    for i in range(repeat):
        state = work / f"state{i}.db"
        cmd = tiers_cmd("run", str(ruleset), "--format", "json", "--out", str(run_out),
                        "--state", str(state))
        firsts.append(run_process(FIRST, cmd, env))
        reruns.append(run_process(RERUN, cmd, env))
        timings.append(recorded_timings(state))
    for name, runs in ((FIRST, firsts), (RERUN, reruns)):
        print(f"  {name:<34} runs: {', '.join(f'{r.wall:.2f}' for r in runs)}", file=sys.stderr)

    results = {DRY: median_run(dry), SQL: median_run(sql), FIRST: median_run(firsts),
               RERUN: median_run(reruns)}
    # the store's own account of the median runs' stages
    results[FIRST].extra = timings[firsts.index(results[FIRST])][0]["timings"]
    results[RERUN].extra = timings[reruns.index(results[RERUN])][1]["timings"]

    reference = tier_counts(results[SQL])
    for m in [*dry, *sql, *firsts, *reruns]:
        if tier_counts(m) != reference:
            raise SystemExit(f"retail {size}: tier counts differ: {m.name} {tier_counts(m)} "
                             f"vs {SQL} {reference}")
    customers = check_rows(run_out, sql_out)
    check_store(work / f"state{repeat - 1}.db", "retail_bench", sql_out)
    print(f"  tier counts agree: {reference}; every customer's tier, metrics and segments "
          f"agree ({customers:,} customers)", file=sys.stderr)
    return {"size": size, "orders": rows, "customers": customers, "counts": reference,
            "results": results, "machine": machine_line(), "repeat": repeat}


def render(r: dict) -> str:
    res: dict[str, Measured] = r["results"]
    sql, dry = res[SQL], res[DRY]
    lines = [
        f"## Retail ruleset at {r['size']} orders: tiers vs hand-written DuckDB SQL",
        "",
        f"`python benchmarks/retail_scale.py {r['size']} --repeat {r['repeat']}` "
        f"({r['machine']} when writing). {r['orders']:,} orders, {r['customers']:,} customers "
        "from `benchmarks/retail_generate.py` (customers with signup dates and birthdays, "
        "surveys, tier history); the policies of `rulesets/retail.yaml` with the points balance "
        "also granting tiers (`benchmarks/retail_common.py`); sources read as Parquet with "
        "their default row checks. Each figure is one process from start to exit, the median "
        f"of {r['repeat']}; peak memory is its maximum resident set. The SQL and the recorded "
        "runs write one row per customer to Parquet (`--out`); the dry run writes nothing (it "
        "only says what it would write), so it does less than the SQL by that much.",
        "",
        "| contender | wall (s) | CPU (s) | peak memory (MB) | time vs SQL | CPU vs SQL "
        "| memory vs SQL | time vs dry run | load at end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in res.items():
        lines.append(f"| {name} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_mb:,.0f} | "
                     f"{ratio(m.wall, sql.wall)} | {ratio(m.cpu, sql.cpu)} | "
                     f"{ratio(m.peak_mb, sql.peak_mb)} | "
                     f"{ratio(m.wall, dry.wall) if name != SQL else '-'} | {m.load:.1f} |")
    lines += [
        "",
        f"- tiers/SQL time {ratio(dry.wall, sql.wall)} (dry run; target <= 1.5x at 10M), "
        f"memory {ratio(dry.peak_mb, sql.peak_mb)} (target <= 2x); first recorded run "
        f"{ratio(res[FIRST].wall, dry.wall)} its dry run (target <= 1.5x), unchanged re-run "
        f"{ratio(res[RERUN].wall, dry.wall)} (target <= 1.2x).",
        "- Checked: tier counts identical ("
        + ", ".join(f"{k} {v:,}" for k, v in sorted(r["counts"].items()))
        + "); every customer's tier, spend, orders, average order value, recency, tenure and "
        "satisfaction (`--out`) and tier and segments (state store) equal the SQL's.",
        "",
        "Stages of the recorded runs, as tiers wrote them into the store's `runs.timings` "
        "(seconds; `other` is the rest of the process: start-up, loading the ruleset, "
        "writing `--out`, output):",
        "",
        "| run | " + " | ".join(STAGES) + " | other | wall | store share |",
        "|---|" + "---:|" * (len(STAGES) + 3),
    ]
    for name in (FIRST, RERUN):
        m = res[name]
        t = m.extra
        other = m.wall - sum(t.get(s, 0) for s in STAGES)
        store = t.get("previous", 0) + t.get("record", 0)
        lines.append(f"| {name.removeprefix('tiers run, ')} | "
                     + " | ".join(f"{t[s]:.2f}" if s in t else "-" for s in STAGES)
                     + f" | {other:.2f} | {m.wall:.2f} | {store / m.wall:.0%} |")
    lines += ["", "`previous` reads the last run's state from the store, `record` writes the "
              "changed rows of `current_tiers` and `tier_history`; the store share is those two "
              "over the wall time. " + LOAD_NOTE]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", default=["1M"])
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per contender (default 3, 1 from 10M orders up)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    for size in map(size_name, args.sizes):
        repeat = args.repeat or (1 if size in ("10M", "100M") else 3)
        result = bench(size, repeat)
        body = render(result)
        print(body)
        if not args.no_write:
            save_result(f"retail-{size}", {
                n: {"wall": m.wall, "cpu": m.cpu, "peak_mb": m.peak_mb, "stages": m.extra}
                for n, m in result["results"].items()})
            write_section(f"retail-{size}", body)


if __name__ == "__main__":
    main()
