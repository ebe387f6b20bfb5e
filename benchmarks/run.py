"""Benchmark `tiers run` against hand-written DuckDB SQL and a pandas script, on the same file.

    python benchmarks/run.py                   # 100k, 1M and 10M orders (generated if missing)
    python benchmarks/run.py 100M --no-pandas  # the out-of-core size
    python benchmarks/run.py 1M --spark        # also `tiers run --engine pyspark`

Each contender is its own process, timed from start to exit, with its peak resident memory
(``wait4`` rusage). The tier counts of all contenders must be identical, or the script fails.
Figures are printed and written to docs/performance.md between the ``bench:scale`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from measure import LOAD_NOTE, data_dir, machine_line, save_result  # noqa: E402
from measure import write_section as write_doc_section  # noqa: E402

DATA = data_dir()
DOC = ROOT / "docs" / "performance.md"
SECTION = "scale"
BIN = Path(sys.executable).parent
# tiers/SQL wall time by size, and how many times faster than pandas tiers should be (issue 13)
TIME_TARGET = {"1M": 1.5, "10M": 1.3}
PANDAS_TARGET = {"10M": 2.5}


@dataclass
class Measured:
    name: str
    wall: float
    cpu: float
    peak_mb: float
    counts: dict[str, int]


def timed(name: str, cmd: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd``; wall time from spawn to exit, peak RSS of the process (and children)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return Measured(name, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                    parse_counts(stdout))


def parse_counts(stdout: str) -> dict[str, int]:
    data = json.loads(stdout[stdout.index("{"):])
    if "tiers" in data:  # `tiers run --format json`
        return {t["tier"]: t["customers"] for t in data["tiers"] if t["customers"]}
    return {k: v for k, v in data.items() if v}


def tiers_env() -> tuple[str, dict[str, str]]:
    """The Parquet source type to use, and the environment that makes it available.

    Uses the built-in ``parquet`` source when tiers has one; otherwise registers
    ``benchmarks/parquet_plugin.py`` the way an installed plugin is: a ``tiers`` entry point.
    """
    env = dict(os.environ)
    probe = subprocess.run([str(BIN / "tiers"), "plugins", "--json"], capture_output=True,
                           text=True, check=True, env=env)
    sources = {s for p in json.loads(probe.stdout) for s in p.get("sources", [])}
    if "parquet" in sources:
        return "parquet", env
    dist = Path(tempfile.mkdtemp(prefix="tiers-bench-plugin-"))
    info = dist / "tiers_bench_parquet-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tiers-bench-parquet\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[tiers]\nbench_parquet = parquet_plugin\n")
    env["PYTHONPATH"] = os.pathsep.join([str(dist), str(HERE), env.get("PYTHONPATH", "")])
    return "bench_parquet", env


def dry_run_flag() -> list[str]:
    help_text = subprocess.run([str(BIN / "tiers"), "run", "--help"], capture_output=True,
                               text=True, check=True).stdout
    return ["--dry-run"] if "--dry-run" in help_text else []


def ensure_data(size: str) -> Path:
    path = DATA / f"orders_{size}.parquet"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), size, "--format", "parquet"],
                       check=True)
    return path


def write_ruleset(size: str, orders: Path, source_type: str, checks: bool = True) -> Path:
    text = (HERE / "ruleset.yaml.in").read_text(encoding="utf-8")
    text = text.format(source_type=source_type, orders=orders)
    path = DATA / f"bench_{size}.yaml"
    if not checks:  # the same run without the duplicate checks (one hash pass over order ids)
        text = text.replace(f"    path: {orders}\n", f"    path: {orders}\n"
                            "    duplicate_order_ids: allow\n    duplicate_rows: allow\n")
        path = DATA / f"bench_{size}_nodup.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def median_run(name: str, cmd: list[str], repeat: int,
               env: dict[str, str] | None = None) -> Measured:
    runs = [timed(name, cmd, env) for _ in range(repeat)]
    best = sorted(runs, key=lambda m: m.wall)[len(runs) // 2]
    print(f"  {name:<22} {best.wall:8.2f} s  cpu {best.cpu:7.2f} s  {best.peak_mb:8.0f} MB  "
          f"(runs: {', '.join(f'{r.wall:.2f}' for r in runs)})", file=sys.stderr)
    return best


def bench_size(size: str, repeat: int, pandas: bool, spark: bool) -> list[Measured]:
    orders = ensure_data(size)
    source_type, env = tiers_env()
    ruleset = write_ruleset(size, orders, source_type)
    py = sys.executable
    print(f"{size} orders ({orders.stat().st_size / 1e6:,.0f} MB Parquet):", file=sys.stderr)
    results = [
        median_run("tiers run", [str(BIN / "tiers"), "run", str(ruleset), "--format", "json",
                                 *dry_run_flag()], repeat, env),
        median_run("DuckDB SQL", [py, str(HERE / "sql_duckdb.py"), str(orders)], repeat),
    ]
    if source_type == "parquet":
        nodup = write_ruleset(size, orders, source_type, checks=False)
        results.append(median_run(NODUP, [str(BIN / "tiers"), "run", str(nodup), "--format",
                                          "json", *dry_run_flag()], repeat, env))
    if pandas:
        results.append(median_run("pandas", [py, str(HERE / "pandas_job.py"), str(orders)],
                                  repeat))
    if spark:
        results.append(median_run(SPARK, [
            str(BIN / "tiers"), "run", str(ruleset), "--format", "json", "--engine", "pyspark",
            *dry_run_flag()], 1, env))
    reference = results[1].counts
    for m in results:
        if m.counts != reference:
            raise SystemExit(f"{size}: tier counts differ: {m.name} {m.counts} "
                             f"vs DuckDB SQL {reference}")
    print(f"  tier counts agree: {reference}", file=sys.stderr)
    return results


NODUP = "tiers run, no duplicate checks"
SPARK = "tiers run (pyspark)"


def startup(repeat: int = 7) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of `tiers --help`, and of a bare interpreter for scale."""
    out = {}
    for label, cmd in (("tiers --help", [str(BIN / "tiers"), "--help"]),
                       ("python -c pass", [sys.executable, "-c", "pass"])):
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
            _, _, usage = os.wait4(proc.pid, 0)
            runs.append((time.perf_counter() - started, usage.ru_utime + usage.ru_stime))
        out[label] = (statistics.median(r[0] for r in runs),
                      statistics.median(r[1] for r in runs))
    return out


def render(results: dict[str, list[Measured]], help_s: dict[str, tuple[float, float]]) -> str:
    lines = [
        "## Scale: tiers vs hand-written DuckDB SQL vs pandas",
        "",
        f"Measured by `python benchmarks/run.py` ({machine_line()} when writing). Each figure "
        "is one process from start to exit (median of the runs made); peak memory "
        "is its maximum resident set. Data: `benchmarks/generate.py` (customers about a tenth of "
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
        sql = next(m for m in ms if m.name == "DuckDB SQL")
        for m in ms:
            lines.append(f"| {size} | {m.name} | {m.wall:.2f} | {m.cpu:.2f} | {m.peak_mb:,.0f} | "
                         f"{m.wall / sql.wall:.2f}x | {m.cpu / sql.cpu:.2f}x | "
                         f"{m.peak_mb / sql.peak_mb:.2f}x |")
    lines.append("")
    for size, ms in results.items():
        by = {m.name: m for m in ms}
        t, s, p = by["tiers run"], by["DuckDB SQL"], by.get("pandas")
        target = TIME_TARGET.get(size)
        parts = [f"tiers/SQL time {t.wall / s.wall:.2f}x (CPU {t.cpu / s.cpu:.2f}x"
                 + (f"; target <= {target}x)" if target else ")"),
                 f"tiers/SQL memory {t.peak_mb / s.peak_mb:.2f}x (target <= 2x)"]
        if p:
            goal = PANDAS_TARGET.get(size)
            parts.append(f"tiers {p.wall / t.wall:.2f}x faster than pandas (CPU "
                         f"{p.cpu / t.cpu:.2f}x" + (f"; target >= {goal}x)" if goal else ")"))
        if NODUP in by:
            parts.append(f"without duplicate checks tiers/SQL time "
                         f"{by[NODUP].wall / s.wall:.2f}x")
        if SPARK in by:
            parts.append(f"on pyspark (local mode) {by[SPARK].wall:.2f} s, "
                         f"{by[SPARK].wall / s.wall:.2f}x the SQL")
        lines.append(f"- {size}: " + "; ".join(parts) + f"; tier counts identical "
                     f"({', '.join(f'{k} {v:,}' for k, v in sorted(t.counts.items()))}).")
    (hw, hc), (pw, pc) = help_s["tiers --help"], help_s["python -c pass"]
    lines += ["", f"`tiers --help` start-up (output piped): {hw:.2f} s wall, {hc:.2f} s CPU, "
              f"median of 7 (target < 0.3 s); a bare `python -c pass` took {pw:.2f} s wall, "
              f"{pc:.2f} s CPU at the same time. " + LOAD_NOTE, ""]
    return "\n".join(lines)


def write_section(body: str, name: str = SECTION, path: Path = DOC) -> None:
    write_doc_section(name, body, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", default=["100k", "1M", "10M"])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per contender below 100M orders; the median is kept")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas script")
    parser.add_argument("--spark", action="store_true", help="also run on pyspark local mode")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    parser.add_argument("--startup-only", action="store_true",
                        help="only measure `tiers --help` (section `startup`)")
    parser.add_argument("--section", help="docs/performance.md section to replace (default: "
                        "`scale` for the default sizes, else `scale-<sizes>`)")
    args = parser.parse_args()
    if args.startup_only:
        (hw, hc), (pw, pc) = startup().values()
        body = (f"## Start-up\n\n`tiers --help` (output piped), median of 7 on "
                f"{os.cpu_count()} cores shared with other work: {hw:.2f} s wall, {hc:.2f} s CPU "
                f"(target < 0.3 s); a bare `python -c pass` took {pw:.2f} s wall, {pc:.2f} s CPU "
                "at the same time.\n")
        print(body)
        if not args.no_write:
            write_section(body, "startup")
        return
    results = {}
    for size in args.sizes:
        repeat = 1 if size == "100M" else args.repeat
        results[size] = bench_size(size, repeat, not args.no_pandas, args.spark)
    help_s = startup()
    print(f"start-up (wall, cpu): {help_s}", file=sys.stderr)
    body = render(results, help_s)
    print(body)
    default = args.sizes == parser.get_default("sizes")
    section = args.section or ("scale" if default else "scale-" + "-".join(args.sizes))
    save_result(section, {
        size: {m.name: {"wall": m.wall, "cpu": m.cpu, "peak_mb": m.peak_mb} for m in ms}
        for size, ms in results.items()})
    if not args.no_write:
        write_section(body, section)


if __name__ == "__main__":
    main()
