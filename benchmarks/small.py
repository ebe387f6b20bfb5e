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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import (
    LOAD_NOTE,
    ROOT,
    child_env,
    machine_line,
    repeated,
    save_result,
    spread,
    tiers_cmd,
    write_section,
)

RULESET = "rulesets/retail.yaml"
CUSTOMER = "C02049"
# (label, command, target seconds or None)
COMMANDS = [
    ("python -c pass", [sys.executable, "-c", "pass"], None),
    ("tiers --help", tiers_cmd("--help"), 0.3),
    (f"tiers validate {RULESET}", tiers_cmd("validate", RULESET), 0.5),
    (f"tiers run {RULESET} --dry-run", tiers_cmd("run", RULESET, "--dry-run"), 1.5),
    (f"tiers explain {RULESET} {CUSTOMER}", tiers_cmd("explain", RULESET, CUSTOMER), 1.5),
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
    env = child_env()
    rows, figures = [], {}
    for label, cmd, target in COMMANDS:
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
        + store_note(),
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
