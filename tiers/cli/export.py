"""`tiers export RULESET`: rewrite the coupon export files from the ledger, evaluating and
applying nothing, so a deleted or damaged export can be rebuilt at any time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tiers.cli.common import RulesetArg
from tiers.cli.options import StateOpt

FINISHED = ("recorded", "done", "done_with_failures", "abandoned", "failed")


def export(
    ruleset: RulesetArg,
    action: Annotated[str | None, typer.Option(
        "--action", help="Only this action's export (an action id). Default: every action "
                         "with an export file.")] = None,
    period: Annotated[str | None, typer.Option(
        "--period", help="Only this period (as the ledger names it: 2026-06-01, 2026-06, "
                         "2026-Q2, 2026 or once). Default: every period with codes.")] = None,
    state: StateOpt = None,
) -> None:
    """Rewrite the export files (coupon codes) from the state store's ledger: every code of
    each action and period, written atomically. Nothing is evaluated, recorded or sent."""
    from tiers.cli.common import load, reported
    from tiers.cli.render import console
    from tiers.core.errors import TiersError
    from tiers.core.outputs import check_output
    from tiers.pipeline import ruleset_inputs, state_url
    from tiers.store.store import StateStore

    with reported():
        loaded = load(ruleset)
        exporters = [a for a in loaded.actions if callable(getattr(a, "write_export", None))
                     and getattr(a.config, "export", None)]
        if action is not None:
            ids = [a.id for a in exporters]
            exporters = [a for a in exporters if a.id == action]
            if not exporters:
                raise TiersError(f"--action {action!r}: no action of {ruleset} writes an "
                                 f"export file\n    fix: use one of {', '.join(ids) or '(none)'}")
        url = state_url(loaded, state or True)
        store = StateStore(url, create=False)
        try:
            if not store.exists:
                raise TiersError(f"no state store for {ruleset}: nothing has been issued yet"
                                 "\n    fix: run `tiers run RULESET` first, or point --state "
                                 "at the store")
            inputs = ruleset_inputs(loaded, url)
            runs = [r for r in store.list_runs(loaded.name, limit=100_000)
                    if r["status"] in FINISHED]
            written = 0
            for exporter in exporters:
                for line in export_action(store, loaded.name, exporter, period, runs, inputs,
                                          check_output):
                    console().print(line)
                    written += 1
            if not written:
                where = f" for period {period}" if period else ""
                console().print(f"no codes in the ledger{where}: no export written")
        finally:
            store.dispose()


def export_action(store: Any, ruleset: str, action: Any, period: str | None,
                  runs: list[dict[str, Any]], inputs: list[str], check: Any) -> list[str]:
    """Write ``action``'s export of each period (or ``period``) it issued codes in; one line
    per file written."""
    from tiers.core.action import period_label

    rows = store.ledger_rows(ruleset, action=action.id, period=period, status="done")
    periods = sorted({r["period"] for r in rows})
    lines = []
    for label in periods:
        # the file is named after the latest run of the period, as that run wrote it
        dated = [r for r in runs if period_label(r["as_of"], action.config.period) == label]
        if not dated:
            continue
        latest = max(dated, key=lambda r: (r["as_of"], r["id"]))
        target = action.output_path(latest["as_of"], latest["id"])
        check(Path(target), inputs, option=f"{action.id} export")
        path, count = action.write_export([r for r in rows if r["period"] == label],
                                          latest["as_of"], latest["id"])
        lines.append(f"{action.id}: {count:,} codes of period {label} written to {path}")
    return lines
