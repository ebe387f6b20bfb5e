"""Where the seconds of a command go: cProfile over the `tiers` command, and DuckDB's own
profile of the queries a run sends it.

    python benchmarks/profile_cli.py                       # the bundled retail ruleset
    python benchmarks/profile_cli.py --scale 1M            # also the retail benchmark at 1M

For each command: its wall time without the profiler, then the same command under
``python -m cProfile`` split into stages (inclusive seconds under the profiler, which slows
Python code more than native code, so read shares, not absolutes). Then, in-process through the
public API (``tiers.load_ruleset`` and ``tiers.run(dry_run=True)``) with Ibis' query log on,
every SQL query the run compiles is captured and run again on the same connection with DuckDB
profiling: how many queries, how long DuckDB executes each, and the operators of the biggest.
Figures are printed and written to docs/performance.md between the ``bench:profile`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import LOAD_NOTE, ROOT, child_env, load_text, machine_line, run_process, write_section

Key = tuple[str, int, str]   # (file, line, function), as pstats names a function

RETAIL = "rulesets/retail.yaml"
COMMANDS = [
    ("run", ["run", RETAIL, "--dry-run"]),
    ("explain", ["explain", RETAIL, "C02049"]),
    ("validate", ["validate", RETAIL]),
]


def _in(*parts: str) -> Callable[[Key], bool]:
    return lambda k: any(p in k[0] for p in parts)


def _ibis_expr(k: Key) -> bool:
    return "/ibis/" in k[0] and "/ibis/backends/" not in k[0]


def _builtin(word: str) -> Callable[[Key], bool]:
    return lambda k: k[0] == "~" and word in k[2]


class Profile:
    def __init__(self, path: Path):
        self.stats = pstats.Stats(str(path)).stats  # key -> (cc, nc, tt, ct, callers)
        self.total = max(v[3] for v in self.stats.values())

    def function(self, file_part: str, name: str) -> tuple[float, int]:
        """(inclusive seconds, calls) of one function; recursion counted once."""
        ct, calls = 0.0, 0
        for k, (_, nc, _, c, _) in self.stats.items():
            if file_part in k[0] and k[2] == name:
                ct, calls = ct + c, calls + nc
        return ct, calls

    def entered(self, inside: Callable[[Key], bool],
                caller: Callable[[Key], bool] | None = None) -> tuple[float, int]:
        """Inclusive seconds and calls of the functions matching ``inside`` when called from a
        function that does not match it (and matches ``caller``, when given)."""
        secs, calls = 0.0, 0
        for k, (_, _, _, _, callers) in self.stats.items():
            if not inside(k):
                continue
            for c, (_, nc, _, ct) in callers.items():
                if not inside(c) and (caller is None or caller(c)):
                    secs, calls = secs + ct, calls + nc
        return secs, calls

    def stages(self) -> list[tuple[str, float, int | None]]:
        tiers_code = _in("/tiers/")
        duck, duck_calls = self.entered(_builtin("duckdb"))
        compile_s, compiles = self.function("ibis/backends/sql/__init__.py", "compile")
        imports, _ = self.function("<frozen importlib._bootstrap>", "_find_and_load")
        rows = [
            ("Python imports (all, including those made mid-run)", imports, None),
            ("load and validate the ruleset (`load_ruleset`, imports included)",
             *self.function("/tiers/", "load_ruleset")),
            ("sources: parsing and row checks (their queries included)",
             *self.entered(_in("/tiers/plugins/sources/"))),
            ("Ibis expression building, called from tiers",
             *self.entered(_ibis_expr, tiers_code)),
            ("Ibis compilation to SQL (calls = compilations)", compile_s, compiles),
            ("DuckDB: planning, execution and Arrow fetch (calls into DuckDB)", duck, duck_calls),
            ("pyarrow work in Python", *self.entered(
                lambda k: "/pyarrow/" in k[0] or (k[0] == "~" and "pyarrow" in k[2]))),
            ("state store (SQLAlchemy and SQLite included)", *self.entered(_in("/tiers/store/"))),
            ("action planning", *self.function("/tiers/", "plan_actions")),
            ("terminal output (rich)", *self.entered(_in("/rich/"))),
        ]
        return [r for r in rows if r[1] >= 0.005]


def profile_command(label: str, args: list[str], out: Path) -> dict:
    env = child_env(TIERS_CACHE_DIR="none")
    plain = run_process(label, [sys.executable, "-m", "tiers", *args], env)
    prof = out / f"{label}.prof"
    profiled = run_process(label, [sys.executable, "-m", "cProfile", "-o", str(prof), "-m",
                                   "tiers", *args], env)
    p = Profile(prof)
    print(f"{label}: {plain.wall:.2f} s plain, {profiled.wall:.2f} s profiled", file=sys.stderr)
    for name, secs, calls in p.stages():
        print(f"  {name:<70} {secs:7.2f} s  {calls if calls is not None else ''}",
              file=sys.stderr)
    return {"label": label, "args": args, "wall": plain.wall, "load": plain.load,
            "profiled": p.total, "stages": p.stages()}


def duckdb_profile(ruleset: Path, out: Path) -> dict:
    """Run ``ruleset`` (dry run, in-process) capturing its SQL, then profile each query."""
    import ibis

    import tiers

    queries: list[str] = []
    ibis.options.verbose = True
    ibis.options.verbose_log = queries.append
    con = ibis.duckdb.connect()
    started = time.perf_counter()
    loaded = tiers.load_ruleset(ruleset)
    tiers.run(loaded, con=con, dry_run=True)
    run_s = time.perf_counter() - started
    ibis.options.verbose = False
    raw = con.con
    timed = []
    for i, sql in enumerate(queries):
        path = out / f"query{i}.json"
        raw.execute("SET enable_profiling = 'json'")
        raw.execute(f"SET profiling_output = '{path}'")
        try:
            t0 = time.perf_counter()
            rows = raw.execute(sql).to_arrow_table().num_rows
            seconds = time.perf_counter() - t0
        except Exception as exc:  # a temporary table of the run that is gone by now
            timed.append({"sql": sql, "error": str(exc).splitlines()[0]})
            continue
        finally:
            raw.execute("SET enable_profiling = 'no_output'")
        tree = json.loads(path.read_text()) if path.exists() else {}
        timed.append({"sql": sql, "seconds": seconds, "cpu": tree.get("cpu_time"),
                      "rows": rows, "operators": operators(tree)})
    return {"ruleset": str(ruleset.relative_to(ROOT) if ruleset.is_relative_to(ROOT)
                           else ruleset), "run": run_s, "queries": timed}


def operators(tree: dict) -> list[tuple[str, float, int]]:
    """(operator, seconds, rows out) summed by operator name over the plan, biggest first."""
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])

    def walk(node: dict) -> None:
        name = node.get("operator_name") or node.get("operator_type") or node.get("name")
        if name:
            name = name.strip()
            acc[name][0] += float(node.get("operator_timing") or 0)
            acc[name][1] += int(node.get("operator_cardinality") or 0)
        for child in node.get("children", []):
            walk(child)

    walk(tree)
    return sorted(((n, s, int(r)) for n, (s, r) in acc.items()), key=lambda x: -x[1])


def what(query: dict) -> str:
    """A rough label: events are the long table of the run's events; one-row results are the
    sources' check passes and summaries."""
    if "'segment_entered'" in query["sql"]:
        return "events"
    if query["rows"] <= 1:
        return "check / summary"
    return "per-customer table"


def render(commands: list[dict], duck: list[dict]) -> str:
    lines = [
        "## Profile: where the seconds of a command go",
        "",
        f"`python benchmarks/profile_cli.py` ({machine_line()} when writing). Wall time "
        "without the profiler, then the stages of the same command under cProfile: inclusive "
        "seconds, which overlap (imports happen inside every stage; sources run DuckDB "
        "queries), and the profiler slows Python code more than DuckDB's native code, so the "
        "profiled total is higher than the wall time and the shares are what to read. Every "
        "command here compiles its SQL (`TIERS_CACHE_DIR=none`), as the first run of a "
        "ruleset does: a repeat run reads it back instead (the *small data* section).",
    ]
    for c in commands:
        lines += ["", f"**`tiers {' '.join(c['args'])}`**: {c['wall']:.2f} s wall (load "
                  f"{c['load']:.1f}), {c['profiled']:.2f} s under the profiler.", "",
                  "| stage | seconds (profiled) | share | calls |", "|---|---:|---:|---:|"]
        for name, secs, calls in c["stages"]:
            lines.append(f"| {name} | {secs:.2f} | {secs / c['profiled']:.0%} | "
                         f"{calls if calls is not None else ''} |")
    for d in duck:
        ok = [q for q in d["queries"] if "seconds" in q]
        total = sum(q["seconds"] for q in ok)
        lines += ["", f"**DuckDB's side of `{d['ruleset']}`** (dry run in-process: "
                  f"{d['run']:.2f} s): the run compiled {len(d['queries'])} SQL queries; run "
                  f"again alone with DuckDB profiling, {len(ok)} of them took {total:.2f} s of "
                  "DuckDB time in all"
                  + (f" ({len(d['queries']) - len(ok)} referred to temporary tables gone "
                     "after the run)" if len(ok) < len(d["queries"]) else "") + ".", "",
                  "| query | what | seconds | DuckDB CPU (s) | rows | SQL characters "
                  "| heaviest operators (operator time) |",
                  "|---|---|---:|---:|---:|---:|---|"]
        for i, q in enumerate(d["queries"]):
            if "seconds" not in q:
                continue
            ops = ", ".join(f"{n} {s:.2f} s" for n, s, _ in q["operators"][:4])
            lines.append(f"| {i + 1} | {what(q)} | {q['seconds']:.3f} | {q['cpu'] or 0:.2f} | "
                         f"{q['rows']:,} | {len(q['sql']):,} | {ops} |")
    lines += ["", LOAD_NOTE]
    return "\n".join(lines) + "\n"


def main() -> None:
    # what a run that compiles spends: no SQL read back from the cache of compiled SQL, so
    # every query is compiled, logged and replayed below
    os.environ["TIERS_CACHE_DIR"] = "none"
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="append", default=[],
                        help="also profile the retail benchmark ruleset at this size (1M...)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="tiers-profile-"))
    commands = [profile_command(label, a, out) for label, a in COMMANDS]
    rulesets = [ROOT / RETAIL]
    for size in args.scale:
        from retail_common import ruleset_yaml
        from retail_generate import generate, size_name

        folder = generate(size_name(size))
        path = folder / "retail_bench.yaml"
        path.write_text(ruleset_yaml(), encoding="utf-8")
        rulesets.append(path)
    duck = [duckdb_profile(r, out) for r in rulesets]
    print(f"load average now {load_text()}; profiles in {out}", file=sys.stderr)
    body = render(commands, duck)
    print(body)
    if not args.no_write:
        write_section("profile", body)


if __name__ == "__main__":
    main()
