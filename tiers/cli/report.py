"""`tiers report RULESET --html report.html`: one self-contained page of charts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tiers.cli.options import StateOpt, live_state
from tiers.core.words import counted


def report(
    ruleset: Annotated[Path, typer.Argument(help="Ruleset YAML file.", show_default=False)],
    html: Annotated[Path, typer.Option("--html", help="Where to write the page.")
                    ] = Path("report.html"),
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Report as of this date (YYYY-MM-DD). Default: the ruleset's `as_of`, "
                        "else today.")] = None,
    compare: Annotated[Path | None, typer.Option(
        "--compare", help="Show the migration from this ruleset (before) to RULESET (after).")
    ] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Show the migration from RULESET as of this earlier date.")] = None,
    backtest_from: Annotated[str | None, typer.Option(
        "--backtest-from", help="Add a backtest from this date (YYYY-MM-DD) up to the report "
                                "date.")] = None,
    every: Annotated[str, typer.Option(
        "--every", help="Backtest step: day, week, month, quarter or year.")] = "month",
    state: StateOpt = None,
) -> None:
    """Write an HTML report: tier distribution, spend share, migration, segments, backtest."""
    from tiers.cli.common import load, reported
    from tiers.cli.progress import progress
    from tiers.cli.render import console
    from tiers.core.outputs import check_output
    from tiers.engine.evaluate import as_of_instant
    from tiers.pipeline import ruleset_inputs
    from tiers.report.data import build
    from tiers.report.html import write_report
    from tiers.whatif.backtest import parse_date, schedule

    with reported(), progress("report") as shown:
        shown.stage("load ruleset")
        loaded = load(ruleset)
        other = load(compare) if compare is not None else None
        check_output(html, [*ruleset_inputs(loaded), *(ruleset_inputs(other) if other else [])],
                     suffixes=(".html", ".htm"), option="--html")
        instant = as_of_instant(as_of if as_of is not None else loaded.model.as_of)
        dates = None
        if backtest_from is not None:
            dates = schedule(parse_date(backtest_from, "--backtest-from"), instant.date(), every)
        store = live_state(loaded, state)
        shown.stage("load sources and evaluate" + (", backtest" if dates else ""))
        try:
            data = build(loaded, instant, compare=other, since=since, backtest_dates=dates,
                         every=every, store=store)
        finally:
            if store is not None:
                store.dispose()
        shown.stage(f"write {html}")
        size = write_report(data, html)
        shown.close()
        console().print(f"wrote {html} ({size / 1e6:.1f} MB): "
                        f"{counted(data.customers, 'customer')} "
                        f"as of {data.as_of:%Y-%m-%d}")
