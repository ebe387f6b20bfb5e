"""Run every benchmark and rewrite docs/performance.md: each script's section between its
markers, then the targets summary at the top. Hand-written prose outside the markers is kept.

    python benchmarks/all.py --sizes 1m,10m
    python benchmarks/all.py --sizes 1m --only small,retail
    python benchmarks/all.py --summary-only      # the summary from the last figures saved

Benchmarks (each a script of its own, run as a process, in this order): small (the everyday
commands on the bundled ruleset), profile (where the time goes), scale (the bench ruleset:
tiers vs DuckDB SQL vs pandas; Spark at 1M), retail (the retail ruleset vs its SQL, dry and
recorded runs), sources (CSV and Parquet loading at the largest size). `--extra` adds the older
in-process ones: store, backtest, semantics. A benchmark that fails is reported and the others
still run; the exit status says whether all passed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SIZES
from measure import HERE, LOAD_NOTE, ROOT, machine_line, results_dir, write_section

MAIN = ("small", "profile", "scale", "retail", "sources")
EXTRA = ("store", "backtest", "semantics")


def size_name(text: str) -> str:
    for name in SIZES:
        if name.lower() == text.strip().lower():
            return name
    raise SystemExit(f"unknown size {text!r}; use {', '.join(SIZES)}")


def commands(name: str, sizes: list[str]) -> list[list[str]]:
    py = sys.executable
    if name == "small":
        return [[py, str(HERE / "small.py")]]
    if name == "profile":
        scale = ["--scale", "1M"] if "1M" in sizes else []
        return [[py, str(HERE / "profile_cli.py"), *scale]]
    if name == "scale":
        out = []
        for size in sizes:
            small = SIZES[size] <= 1_000_000
            out.append([py, str(HERE / "run.py"), size, "--repeat", "3" if small else "1",
                        "--section", f"scale-{size}", *(["--spark"] if size == "1M" else [])])
        return out
    if name == "retail":
        return [[py, str(HERE / "retail_scale.py"), size] for size in sizes]
    if name == "sources":
        rows = max(SIZES[s] for s in sizes)
        return [[py, str(HERE / "load_sources.py"), "--rows", str(rows), "--customers",
                 str(max(rows // 10, 1))]]
    if name == "store":
        return [[py, str(HERE / "bench_store.py")]]
    if name == "backtest":
        return [[py, str(HERE / "backtest.py")]]
    if name == "semantics":
        return [[py, str(HERE / "semantics.py"), "1M"]]
    raise SystemExit(f"unknown benchmark {name!r}; use {', '.join(MAIN + EXTRA)}")


def load(name: str) -> dict | None:
    path = results_dir() / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def row(figure: str, value: float | None, target: str, met: bool | None, when: dict | None,
        unit: str = "x", missing: str = "not measured") -> str:
    shown = missing if value is None else (f"{value:.2f} s" if unit == "s"
                                           else f"{value:.2f}x")
    verdict = "-" if met is None else ("yes" if met else "no")
    stamp = f"{when['date']}, load {when['load']}" if when else "-"
    return f"| {figure} | {shown} | {target} | {verdict} | {stamp} |"


def summary() -> str:
    lines = [
        "## Targets (issue 13)",
        "",
        "Written by `python benchmarks/all.py` from the figures each benchmark saved last "
        f"(bench-data/results/; summary written {machine_line()}). Each figure is a ratio "
        "against its peer measured in the same run, except the command wall times.",
        "",
        "| figure | measured | target | met | measured on |",
        "|---|---:|---|---|---|",
    ]
    small = load("small")
    for label, target in (("tiers run rulesets/retail.yaml --dry-run", 1.5),
                          ("tiers explain rulesets/retail.yaml C02049", 1.5),
                          ("tiers validate rulesets/retail.yaml", 0.5),
                          ("tiers --help", 0.3)):
        med = small[label]["median"] if small and label in small else None
        lines.append(row(f"`{label}` wall, median", med, f"<= {target} s",
                         None if med is None else med <= target, small, unit="s"))
    for size, time_target in (("1M", 1.5), ("10M", 1.3)):
        res = load(f"scale-{size}")
        fig = res.get(size) if res else None
        t, s = (fig or {}).get("tiers run"), (fig or {}).get("DuckDB SQL")
        tr = t["wall"] / s["wall"] if t and s else None
        lines.append(row(f"bench ruleset {size}: tiers / SQL time", tr, f"<= {time_target}x",
                         None if tr is None else tr <= time_target, res))
        mr = t["peak_mb"] / s["peak_mb"] if t and s else None
        lines.append(row(f"bench ruleset {size}: tiers / SQL peak memory", mr, "<= 2x",
                         None if mr is None else mr <= 2, res))
        p = (fig or {}).get("pandas")
        if size == "10M":
            pr = p["wall"] / t["wall"] if p and t else None
            lines.append(row("bench ruleset 10M: pandas / tiers time", pr, ">= 2.5x",
                             None if pr is None else pr >= 2.5, res))
        if size == "1M":
            for name, label in (("tiers run (pyspark)", "Parquet"),
                                ("tiers run (pyspark), csv source", "CSV")):
                spark = (fig or {}).get(name)
                if spark or label == "Parquet":
                    lines.append(row(f"bench ruleset 1M on `--engine pyspark` ({label} "
                                     "source): wall", spark["wall"] if spark else None,
                                     "re-measured, works", None if label == "CSV" else
                                     spark is not None, res, unit="s",
                                     missing="failed (see the 1M section)" if res else
                                     "not measured"))
    for size in ("1M", "10M"):
        res = load(f"retail-{size}") or {}
        dry, sql = res.get("tiers run --dry-run"), res.get("DuckDB SQL")
        first = res.get("tiers run, first recorded run")
        rerun = res.get("tiers run, unchanged re-run")
        tr = dry["wall"] / sql["wall"] if dry and sql else None
        lines.append(row(f"retail ruleset {size}: tiers / SQL time", tr,
                         "<= 1.5x" if size == "10M" else "(10M target: <= 1.5x)",
                         None if tr is None or size != "10M" else tr <= 1.5, res or None))
        mr = dry["peak_mb"] / sql["peak_mb"] if dry and sql else None
        lines.append(row(f"retail ruleset {size}: tiers / SQL peak memory", mr, "<= 2x",
                         None if mr is None else mr <= 2, res or None))
        fr = first["wall"] / dry["wall"] if first and dry else None
        rr = rerun["wall"] / dry["wall"] if rerun and dry else None
        at10 = size == "10M"
        lines.append(row(f"retail ruleset {size}: first recorded run / dry run", fr,
                         "<= 1.5x" if at10 else "(10M target: <= 1.5x)",
                         None if fr is None or not at10 else fr <= 1.5, res or None))
        lines.append(row(f"retail ruleset {size}: unchanged re-run / dry run", rr,
                         "<= 1.2x" if at10 else "(10M target: <= 1.2x)",
                         None if rr is None or not at10 else rr <= 1.2, res or None))
    src = load("load_sources")
    csv = src.get("csv") if src else None
    cr = csv["tiers"] / csv["duckdb_checks"] if csv else None
    rows = f"{src['rows']:,} rows" if src else "10M rows"
    lines.append(row(f"CSV source ({rows}) / DuckDB typed read with the same checks", cr,
                     "<= 4x" + ("" if src and src["rows"] >= 10_000_000 else " at 10M"),
                     None if cr is None else cr <= 4, src))
    lines += ["", LOAD_NOTE]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated: 1m, 10m...")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(MAIN)}")
    parser.add_argument("--extra", action="store_true",
                        help=f"also run {', '.join(EXTRA)}")
    parser.add_argument("--summary-only", action="store_true",
                        help="only rewrite the summary from the figures saved last")
    args = parser.parse_args()
    sizes = [size_name(s) for s in args.sizes.split(",") if s.strip()]
    names = [n.strip() for n in args.only.split(",")] if args.only else list(MAIN)
    if args.extra:
        names += EXTRA
    failed = []
    if not args.summary_only:
        for name in names:
            for cmd in commands(name, sizes):
                shown = " ".join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))
                print(f"== {name}: {shown}", file=sys.stderr, flush=True)
                started = time.perf_counter()
                code = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
                took = time.perf_counter() - started
                print(f"== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {took:.0f} s",
                      file=sys.stderr, flush=True)
                if code:
                    failed.append(shown)
    write_section("summary", summary())
    if failed:
        print("failed: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
