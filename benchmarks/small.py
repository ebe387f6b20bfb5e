"""Small-data figures: the wall time of the everyday commands on the bundled retail ruleset.

    python benchmarks/small.py              # 7 runs of each command
    python benchmarks/small.py --repeat 11

Each command is a process started the way a user starts it, output piped (so nothing is drawn
on a terminal), timed from spawn to exit. `tiers --help` and a bare `python -c pass` are the
start-up references. Figures are printed and written to docs/performance.md between the
``bench:small`` markers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import (
    LOAD_NOTE,
    ROOT,
    child_env,
    machine_line,
    repeated,
    run_process,
    save_result,
    spread,
    tiers_cmd,
    write_section,
)

RULESET = "rulesets/retail.yaml"
CUSTOMER = "C02049"
# (label, command, target seconds or None, compiled SQL kept between runs)
COMMANDS = [
    ("python -c pass", [sys.executable, "-c", "pass"], None, True),
    ("tiers --help", tiers_cmd("--help"), 0.3, True),
    (f"tiers validate {RULESET}", tiers_cmd("validate", RULESET), 0.5, True),
    (f"tiers run {RULESET} --dry-run", tiers_cmd("run", RULESET, "--dry-run"), 1.5, True),
    (f"tiers explain {RULESET} {CUSTOMER}", tiers_cmd("explain", RULESET, CUSTOMER), 1.5, True),
    (f"tiers run {RULESET} --dry-run, compiling", tiers_cmd("run", RULESET, "--dry-run"),
     None, False),
    (f"tiers explain {RULESET} {CUSTOMER}, compiling", tiers_cmd("explain", RULESET, CUSTOMER),
     None, False),
]


def store_note() -> str:
    state = ROOT / "rulesets" / ".tiers" / "state.db"
    if state.exists():
        return (f"A state store exists at {state.relative_to(ROOT)}: the dry run and explain "
                "read the last recorded state from it.")
    return ("No state store exists for the ruleset, so the dry run and explain evaluate "
            "without a previous state (a first run).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    kept = child_env(TIERS_CACHE_DIR=tempfile.mkdtemp(prefix="tiers-bench-sql-"))
    compiling = child_env(TIERS_CACHE_DIR="none")
    rows, figures = [], {}
    for label, cmd, target, cache in COMMANDS:
        env = kept if cache else compiling
        if cache:
            run_process(label, cmd, env, ROOT)  # the first run, which fills the cache
        runs = repeated(label, cmd, args.repeat, env)
        med, lo, hi = spread([r.wall for r in runs])
        figures[label] = {"median": med, "min": lo, "max": hi, "target": target}
        cpu = statistics.median(r.cpu for r in runs)
        peak = max(r.peak_mb for r in runs)
        loads = [r.load for r in runs]
        rows.append(f"| `{label}` | **{med:.2f}** | {lo:.2f} | {hi:.2f} | {cpu:.2f} | "
                    f"{peak:,.0f} | {f'<= {target:g}' if target else '-'} | "
                    f"{'yes' if target and med <= target else 'no' if target else '-'} | "
                    f"{min(loads):.1f}-{max(loads):.1f} |")
    body = "\n".join([
        "## Small data: everyday commands on the bundled retail ruleset",
        "",
        f"`python benchmarks/small.py --repeat {args.repeat}` ({machine_line()} when "
        f"writing). `{RULESET}`: 4,000 customers, 32,000 orders in CSV, 6 policies, 3 actions. "
        f"Each command ran {args.repeat} times as its own process, output piped; wall "
        "seconds (median, min, max), median CPU seconds and the largest peak resident memory. "
        + store_note() + " The compiled SQL of each query is kept between runs "
        "(docs/performance.md, *Compiled SQL kept between runs*), filled by one run before "
        "the timed ones; the rows marked *compiling* keep none (`TIERS_CACHE_DIR=none`), as "
        "the first run of a ruleset or a new as-of compiles.",
        "",
        "| command | median (s) | min (s) | max (s) | CPU (s) | peak memory (MB) | target (s) "
        "| met | load during runs |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
        *rows,
        "",
        LOAD_NOTE,
    ]) + "\n"
    print(body)
    if not args.no_write:
        save_result("small", figures)
        write_section("small", body)


if __name__ == "__main__":
    main()
