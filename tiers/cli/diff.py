"""`tiers diff OLD NEW`: what a ruleset change does to every customer, before it goes live."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tiers.cli.options import FormatOpt, StateOpt, live_state, output_format
from tiers.core.words import counted

if TYPE_CHECKING:
    from tiers.whatif.diff import Diff

AFFECTED_COLUMNS = ["customer_id", "old_tier", "new_tier", "direction", "old_rank", "new_rank",
                    "old_spend", "new_spend"]


def diff(
    old: Annotated[Path, typer.Argument(help="The ruleset in force (before).",
                                        show_default=False)],
    new: Annotated[Path, typer.Argument(help="The changed ruleset (after).",
                                        show_default=False)],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Evaluate both as of this date (YYYY-MM-DD). Default: NEW's `as_of`, "
                        "else today.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the customers whose tier changes to .csv or .parquet.")] = None,
    fmt: FormatOpt = "table",
    state: StateOpt = None,
) -> None:
    """Compare two rulesets on the same customers: tier migration, totals, actions and their
    cost, affected list. Both start from OLD's last recorded run when its store exists."""
    from tiers.cli.common import load, reported
    from tiers.cli.progress import progress
    from tiers.cli.render import emit
    from tiers.core.files import write_table
    from tiers.core.outputs import check_output
    from tiers.pipeline import ruleset_inputs
    from tiers.whatif.diff import diff_rulesets

    with reported():
        fmt = output_format(fmt)
        with progress("diff", fmt) as shown:
            shown.stage("load rulesets")
            old_loaded, new_loaded = load(old), load(new)
            if out is not None:  # before the work: a bad path must not cost a whole comparison
                out = check_output(out, [*ruleset_inputs(old_loaded),
                                         *ruleset_inputs(new_loaded)])
            store = live_state(old_loaded, state)
            shown.stage("load sources and evaluate both rulesets")
            try:
                result = diff_rulesets(old_loaded, new_loaded, as_of=as_of, state=store)
            finally:
                if store is not None:
                    store.dispose()
            if out is not None:
                shown.stage(f"write {out}")
                write_table(result.affected().select(AFFECTED_COLUMNS), out)
        data = diff_json(result, out)
        emit(fmt, data=data, rows=data["tiers"], table=lambda: print_diff(result, out))


def diff_json(d: Diff, out: Path | None) -> dict[str, Any]:
    return {
        "old": {"ruleset": d.old.name, "file": str(d.old.file)},
        "new": {"ruleset": d.new.name, "file": str(d.new.file)},
        "as_of": d.as_of.date().isoformat(),
        "summary": d.counts(),
        "matrix": d.matrix.to_json(),
        "tiers": [
            {"tier": c.tier, "name": c.name, "before": c.before, "after": c.after,
             "delta": c.delta, "spend_before": round(c.spend_before, 2),
             "spend_after": round(c.spend_after, 2),
             "spend_delta": round(c.spend_after - c.spend_before, 2)}
            for c in d.tiers
        ],
        "actions": d.actions,
        "out": str(out) if out else None,
    }


def print_diff(d: Diff, out: Path | None) -> None:
    from tiers.cli.render import console
    from tiers.report.tables import cost_change_table, matrix_table, tier_change_table

    c = console()
    n = d.counts()
    c.print(f"[bold]{d.old.file.name}[/bold] → [bold]{d.new.file.name}[/bold] as of "
            f"{d.as_of:%Y-%m-%d}: {counted(n['customers'], 'customer')}, "
            f"{n['changed']:,} change tier "
            f"({n['up']:,} up, {n['down']:,} down"
            + (f", {n['moved']:,} to another ladder" if n["moved"] else "")
            + (f", {n['new']:,} new, {n['gone']:,} gone" if n["new"] or n["gone"] else "")
            + ")")
    c.print(matrix_table(d.matrix, "Tier migration (rows: before, columns: after)"))
    c.print(tier_change_table(d.tiers, "Customers and spend per tier",
                              d.new.model.currency or d.old.model.currency))
    if d.actions:
        c.print(cost_change_table(d.actions, "Actions this run would plan"))
    if out is not None:
        c.print(f"wrote {counted(n['changed'], 'affected customer')} to {out}")
