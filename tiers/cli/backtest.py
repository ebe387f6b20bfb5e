"""`tiers backtest RULESET --from --to --every`: replay a ruleset over the order history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tiers.cli.options import FormatOpt, output_format
from tiers.core.words import counted

if TYPE_CHECKING:
    from tiers.ruleset.loader import LoadedRuleset
    from tiers.whatif.backtest import Backtest


def backtest(
    ruleset: Annotated[Path, typer.Argument(help="Ruleset YAML file.", show_default=False)],
    start: Annotated[str, typer.Option("--from", help="First evaluation date (YYYY-MM-DD).",
                                       show_default=False)],
    end: Annotated[str, typer.Option("--to", help="Last possible evaluation date (YYYY-MM-DD).",
                                     show_default=False)],
    every: Annotated[str, typer.Option(
        "--every", help="Step between evaluations: day, week, month, quarter or year.")
    ] = "month",
    compare: Annotated[Path | None, typer.Option(
        "--compare", help="Backtest this second ruleset on the same dates, side by side.")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Replay a ruleset as of each date, carrying tier state forward; writes nothing."""
    from tiers.cli.common import load, reported
    from tiers.cli.render import emit

    with reported():
        fmt = output_format(fmt)
        rulesets = [load(ruleset)] + ([load(compare)] if compare is not None else [])
        results = run_backtests(rulesets, start, end, every, quiet=fmt != "table")
        emit(fmt, data=backtest_json(results), rows=backtest_rows(results),
             table=lambda: [print_backtest(r) for r in results])


def backtest_rows(results: list[Backtest]) -> list[dict[str, Any]]:
    """One row per ruleset and period, as the tables show them."""
    return [{"ruleset": b.ruleset.name, "as_of": f"{p.as_of:%Y-%m-%d}",
             **{f"tier.{t}": p.tiers[t] for t in reversed(b.ruleset.model.tier_ids())},
             "new": p.moves["entered"], "up": p.moves["upgraded"],
             "down": p.moves["downgraded"], "kept": p.protected_total}
            for b in results for p in b.periods]


def run_backtests(rulesets: list[LoadedRuleset], start: str, end: str, every: str,
                  quiet: bool = False) -> list[Backtest]:
    """Backtest each ruleset on one connection over sources loaded once."""
    from tiers.engine.backends import connect
    from tiers.whatif.backtest import backtest as run
    from tiers.whatif.backtest import parse_date, schedule
    from tiers.whatif.preload import share_sources

    dates = schedule(parse_date(start, "--from"), parse_date(end, "--to"), every)
    con = connect(rulesets[0].model.engine)
    share_sources(rulesets, con, cache=True)
    results = []
    for loaded in rulesets:
        with progress(f"{loaded.name}", len(dates), quiet) as step:
            results.append(run(loaded, dates, con, every, on_period=step))
    return results


@contextmanager
def progress(label: str, total: int, quiet: bool = False
             ) -> Iterator[Callable[[dt.datetime], None]]:
    """A progress bar on a terminal; silent in pipes, CI and with --format json or csv."""
    from rich.console import Console
    from rich.progress import Progress

    from tiers.cli.progress import wanted

    con = Console(stderr=True)
    if quiet or not wanted():
        yield lambda _: None
        return
    with Progress(console=con, transient=True) as bar:
        task = bar.add_task(f"backtest {label}", total=total)

        def step(as_of: dt.datetime) -> None:
            bar.update(task, advance=1, description=f"backtest {label} {as_of:%Y-%m-%d}")

        yield step


def backtest_json(results: list[Backtest]) -> dict[str, Any]:
    first = results[0]
    dates = [p.as_of.date().isoformat() for p in first.periods]
    return {"from": dates[0], "to": dates[-1], "every": first.every,
            "backtests": [r.to_json() for r in results]}


def print_backtest(b: Backtest) -> None:
    from rich.table import Table

    from tiers.cli.render import console
    from tiers.report.tables import matrix_table

    c = console()
    labels = {t.id: t.label for t in b.ruleset.model.tiers}
    ladder = list(reversed(b.ruleset.model.tier_ids()))
    periods = counted(len(b.periods), "period")
    table = Table(title=f"{b.ruleset.name}: backtest, {periods} every {b.every}",
                  title_justify="left")
    table.add_column("As of")
    for tier in ladder:
        table.add_column(labels[tier], justify="right")
    for name in ("New", "Up", "Down", "Kept"):
        table.add_column(name, justify="right")
    for p in b.periods:
        table.add_row(f"{p.as_of:%Y-%m-%d}", *(f"{p.tiers[t]:,}" for t in ladder),
                      f"{p.moves['entered']:,}", f"{p.moves['upgraded']:,}",
                      f"{p.moves['downgraded']:,}", f"{p.protected_total:,}")
    c.print(table)
    held = {k: sum(p.protected[k] for p in b.periods) for k in b.periods[0].protected}
    c.print("Kept = customers kept above the tier their metrics earn for entry, by rule: "
            + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in held.items())
            + " customer-periods in total.")
    c.print(matrix_table(b.churn(), "Moves between tiers over the backtest "
                                    "(rows: from, columns: to)"))
    if any(p.cost for p in b.periods):
        c.print(cost_table(b))
    c.print(f"[dim]{counted(len(b.periods), 'evaluation')} in {b.seconds:.2f} s[/dim]")


def cost_table(b: Backtest) -> Any:
    """What the actions would have handed out per period (each intent once per its period,
    as the ledger issues it)."""
    from rich.table import Table

    from tiers.report.tables import figure

    names = list(dict.fromkeys(k for p in b.periods for k in p.cost))
    table = Table(title="Actions per period", title_justify="left")
    table.add_column("As of")
    for name in names:
        table.add_column(name.replace(".", "\n", 1), justify="right")
    for p in b.periods:
        table.add_row(f"{p.as_of:%Y-%m-%d}", *(figure(p.cost.get(n, 0)) for n in names))
    table.add_section()
    # standing levels (rep capacity, customers with a rep) do not add up over periods
    table.add_row("Total", *(figure(sum(p.cost.get(n, 0) for p in b.periods))
                             if not n.endswith(("capacity", "with a rep")) else ""
                             for n in names))
    return table
