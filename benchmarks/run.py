"""Benchmark `tiers run` against hand-written DuckDB SQL and a pandas script, on the same file.

    python benchmarks/run.py                   # 100k, 1M and 10M orders (generated if missing)
    python benchmarks/run.py 10M --repeat 1 --section scale-10M
    python benchmarks/run.py 100M --no-pandas  # the out-of-core size
    python benchmarks/run.py 1M --spark        # also `tiers run --engine pyspark`

Each contender is its own process, timed from start to exit, with its peak resident memory
(``wait4`` rusage; for Spark also sampled over the whole process tree, since the JVM is never
waited for). The tier counts of all contenders must be identical, or the script fails. Figures
are printed and written to docs/performance.md between the ``bench:scale`` markers (or the
section given).

When `--engine pyspark` cannot read the Parquet file, the failure is reported and Spark is
measured on the CSV copy of the same orders instead, beside DuckDB on that CSV.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import (  # noqa: E402
    LOAD_NOTE,
    child_env,
    data_dir,
    machine_line,
    run_process,
    save_result,
    tiers_cmd,
    write_section,
)

SECTION = "scale"
# tiers/SQL wall time by size, and how many times faster than pandas tiers should be (issue 13)
TIME_TARGET = {"1M": 1.5, "10M": 1.3}
PANDAS_TARGET = {"10M": 2.5}
TIERS, SQL, PANDAS = "tiers run", "DuckDB SQL", "pandas"
NODUP = "tiers run, no duplicate checks"
SPARK = "tiers run (pyspark)"
SPARK_CSV = "tiers run (pyspark), csv source"
DUCK_CSV = "tiers run (duckdb), csv source"


@dataclass
class Result:
    name: str
    wall: float
    cpu: float
    peak_mb: float
    counts: dict[str, int]


def parse_counts(stdout: str) -> dict[str, int]:
    data = json.loads(stdout[stdout.index("{"):])
    if "tiers" in data:  # `tiers run --format json`
        return {t["tier"]: t["customers"] for t in data["tiers"] if t["customers"]}
    return {k: v for k, v in data.items() if v}


def median_run(name: str, cmd: list[str], repeat: int, tree: bool = False) -> Result:
    return report(name, [run_process(name, cmd, child_env(), tree=tree) for _ in range(repeat)])


def in_turn(contenders: list[tuple[str, list[str]]], repeat: int) -> list[Result]:
    """Each contender once per round, ``repeat`` rounds: a machine whose speed drifts during
    the benchmark then slows every contender alike, and the ratios hold."""
    runs: dict[str, list] = {name: [] for name, _ in contenders}
    for _ in range(repeat):
        for name, cmd in contenders:
            runs[name].append(run_process(name, cmd, child_env()))
    return [report(name, runs[name]) for name, _ in contenders]


def report(name: str, runs: list) -> Result:
    best = sorted(runs, key=lambda m: m.wall)[(len(runs) - 1) // 2]
    print(f"  {name:<34} {best.wall:8.2f} s  cpu {best.cpu:7.2f} s  {best.peak_mb:8.0f} MB  "
          f"(runs: {', '.join(f'{r.wall:.2f}' for r in runs)}; load {best.load:.1f})",
          file=sys.stderr)
    return Result(name, best.wall, best.cpu, best.peak_mb, parse_counts(best.stdout))


def ensure_data(size: str, fmt: str = "parquet") -> Path:
    path = data_dir() / f"orders_{size}.{fmt}"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), size, "--format", fmt,
                        "--out", str(data_dir())], check=True)
    return path


def write_ruleset(size: str, orders: Path, source_type: str, checks: bool = True) -> Path:
    text = (HERE / "ruleset.yaml.in").read_text(encoding="utf-8")
    text = text.format(source_type=source_type, orders=orders)
    suffix = "" if source_type == "parquet" else f"_{source_type}"
    path = data_dir() / f"bench_{size}{suffix}.yaml"
    if not checks:  # the same run without the duplicate checks (one hash pass over order ids)
        text = text.replace(f"    path: {orders}\n", f"    path: {orders}\n"
                            "    duplicate_order_ids: allow\n    duplicate_rows: allow\n")
        path = path.with_name(path.stem + "_nodup.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def tiers_run(ruleset: Path, *extra: str) -> list[str]:
    return tiers_cmd("run", str(ruleset), "--format", "json", "--dry-run", *extra)


def bench_size(size: str, repeat: int, pandas: bool, spark: bool) -> tuple[list[Result], str]:
    orders = ensure_data(size)
    ruleset = write_ruleset(size, orders, "parquet")
    py = sys.executable
    note = ""
    print(f"{size} orders ({orders.stat().st_size / 1e6:,.0f} MB Parquet):", file=sys.stderr)
    contenders = [
        (TIERS, tiers_run(ruleset)),
        (SQL, [py, str(HERE / "sql_duckdb.py"), str(orders)]),
        (NODUP, tiers_run(write_ruleset(size, orders, "parquet", checks=False))),
    ]
    if pandas:
        contenders.append((PANDAS, [py, str(HERE / "pandas_job.py"), str(orders)]))
    results = in_turn(contenders, repeat)
    if spark:
        try:
            results.append(median_run(SPARK, tiers_run(ruleset, "--engine", "pyspark"), 1,
                                      tree=True))
        except SystemExit as exc:
            error = next((line.strip() for line in str(exc).splitlines()
                          if line.startswith("error:")), str(exc).splitlines()[0])
            note = (f"`--engine pyspark` failed on the Parquet file: `{error}`; Spark was "
                    "measured on the CSV copy of the same orders instead.")
            print(f"  {note}", file=sys.stderr)
            csv_ruleset = write_ruleset(size, ensure_data(size, "csv"), "csv")
            results.append(median_run(SPARK_CSV, tiers_run(csv_ruleset, "--engine", "pyspark"),
                                      1, tree=True))
            results.append(median_run(DUCK_CSV, tiers_run(csv_ruleset), 1))
    reference = results[1].counts
    for m in results:
        if m.counts != reference:
            raise SystemExit(f"{size}: tier counts differ: {m.name} {m.counts} "
                             f"vs DuckDB SQL {reference}")
    print(f"  tier counts agree: {reference}", file=sys.stderr)
    return results, note


def render(results: dict[str, list[Result]], notes: dict[str, str], repeat: int) -> str:
    lines = [
        f"## Bench ruleset at {', '.join(results)} orders: tiers vs hand-written DuckDB SQL "
        "vs pandas",
        "",
        f"Measured by `python benchmarks/run.py` ({machine_line()} when writing). Each figure "
        f"is one process from start to exit (median of {repeat} below 100M orders, the "
        "contenders taking turns, one run each per round; Spark once); peak memory is its "
        "maximum resident set (for Spark, the whole process tree "
        "with the JVM, sampled). Data: `benchmarks/generate.py` (customers about a tenth of "
        "orders, skewed order counts, lognormal amounts, 3 % refunds, two years), read as "
        "Parquet; ruleset: spend + frequency thresholds over 365 days "
        "(`benchmarks/ruleset.yaml.in`). `tiers run --dry-run` loads through the built-in "
        "`parquet` source with its default row checks (reject reasons, exact duplicate rows, "
        "duplicate order ids); the `no duplicate checks` row turns the duplicate checks off.",
        "",
        "| orders | contender | wall (s) | CPU (s) | peak memory (MB) | time vs SQL "
        "| CPU vs SQL | memory vs SQL |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, ms in results.items():
        sql = next(m for m in ms if m.name == SQL)
        for m in ms:
            lines.append(f"| {size} | {m.name} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_mb:,.0f} | "
                         f"{m.wall / sql.wall:.2f}x | {m.cpu / sql.cpu:.2f}x | "
                         f"{m.peak_mb / sql.peak_mb:.2f}x |")
    lines.append("")
    for size, ms in results.items():
        by = {m.name: m for m in ms}
        t, s, p = by[TIERS], by[SQL], by.get(PANDAS)
        target = TIME_TARGET.get(size)
        parts = [f"tiers/SQL time {t.wall / s.wall:.2f}x (CPU {t.cpu / s.cpu:.2f}x"
                 + (f"; target <= {target}x)" if target else ")"),
                 f"tiers/SQL memory {t.peak_mb / s.peak_mb:.2f}x (target <= 2x)"]
        if p:
            goal = PANDAS_TARGET.get(size)
            parts.append(f"pandas/tiers time {p.wall / t.wall:.2f}x (CPU {p.cpu / t.cpu:.2f}x"
                         + (f"; target >= {goal}x, i.e. tiers that much faster)" if goal
                            else ")"))
        parts.append(f"without duplicate checks tiers/SQL time {by[NODUP].wall / s.wall:.2f}x")
        for name in (SPARK, SPARK_CSV):
            if name in by:
                parts.append(f"{name} {by[name].wall:.2f} s")
        lines.append(f"- {size}: " + "; ".join(parts) + f"; tier counts identical "
                     f"({', '.join(f'{k} {v:,}' for k, v in sorted(t.counts.items()))})."
                     + (f" {notes[size]}" if notes.get(size) else ""))
    lines += ["", LOAD_NOTE, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", default=["100k", "1M", "10M"])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per contender below 100M orders; the median is kept")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas script")
    parser.add_argument("--spark", action="store_true", help="also run on pyspark local mode")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    parser.add_argument("--section", help="docs/performance.md section to replace (default: "
                        "`scale` for the default sizes, else `scale-<sizes>`)")
    args = parser.parse_args()
    results, notes = {}, {}
    for size in args.sizes:
        repeat = 1 if size == "100M" else args.repeat
        results[size], notes[size] = bench_size(size, repeat, not args.no_pandas, args.spark)
    body = render(results, notes, args.repeat)
    print(body)
    default = args.sizes == parser.get_default("sizes")
    section = args.section or ("scale" if default else "scale-" + "-".join(args.sizes))
    if not args.no_write:
        save_result(section, {
            size: {m.name: {"wall": m.wall, "cpu": m.cpu, "peak_mb": m.peak_mb} for m in ms}
            for size, ms in results.items()})
        write_section(section, body)


if __name__ == "__main__":
    main()
