"""`tiers run RULESET`: evaluate, show the tier table and what changed, carry out actions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tiers.cli.common import RulesetArg, load, reported
from tiers.cli.options import FormatOpt, output_format


def run(
    ruleset: RulesetArg,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Evaluate as of this date (YYYY-MM-DD): windows end at its start. "
                        "Default: the ruleset's `as_of`, else today.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write one row per customer (id, tier, metrics) to .csv or .parquet.")
    ] = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="duckdb (default) or pyspark; overrides the ruleset's `engine`.")] = None,
    fmt: FormatOpt = "table",
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Compute everything and show the action plan; write nothing.")
    ] = False,
    state: Annotated[str | None, typer.Option(
        "--state", help="State store URL or SQLite file; default: $TIERS_STATE_URL, the "
                        "ruleset's `state:`, else .tiers/state.db next to the ruleset.")
    ] = None,
) -> None:
    """Evaluate a ruleset, show the tier table and what changed, and carry out its actions
    (each exactly once; run again to resume failed ones)."""
    from tiers.cli.progress import progress
    from tiers.cli.render import emit, print_run, run_json, tier_rows
    from tiers.cli.render_actions import actions_json, exit_code, print_actions
    from tiers.pipeline import run as run_ruleset

    with reported():
        fmt = output_format(fmt)
        loaded = load(ruleset)
        if engine:
            loaded.model.engine = engine
        with progress("run", fmt) as shown:
            result = run_ruleset(loaded, as_of=as_of, out=out, state=state or True,
                                 dry_run=dry_run, progress=shown)
        written = None if dry_run else out  # a dry run writes no file
        emit(fmt, data={**run_json(result, written), **actions_json(result)},
             rows=tier_rows(result),
             table=lambda: (print_run(result, written), print_actions(result, ruleset)))
        code = exit_code(result)
        if code:
            raise typer.Exit(code)
