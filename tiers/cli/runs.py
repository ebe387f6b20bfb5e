"""`tiers runs`: past runs from the state store; `--unlock` frees a stale run lock, never
one a live run on this host holds (`--force` for a lock from another host)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tiers.cli.options import (
    FormatOpt,
    JsonOpt,
    RulesetOpt,
    StateOpt,
    open_for_reading,
    output_format,
)


def runs_command(
    ruleset: RulesetOpt = None,
    state: StateOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs.")] = 20,
    unlock: Annotated[str | None, typer.Option(
        "--unlock", help="Remove the run lock of this ruleset name (after a killed run); "
                         "its run is marked abandoned. Refused while the run's process is "
                         "alive on this host.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="With --unlock: remove a lock held on another host, or by a pid "
                        "that is not a tiers run, once you have checked it is gone.")
    ] = False,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """List past runs (newest first): status, customers, changes and action outcomes."""
    from tiers.cli.common import reported
    from tiers.cli.render import emit

    if force and not unlock:
        raise typer.BadParameter("--force goes with --unlock RULESET", param_hint="--force")
    with reported():
        fmt = output_format(fmt, as_json)
        store, name = open_for_reading(ruleset, state)
        try:
            if unlock:
                import datetime as dt

                from tiers.store import lock

                now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                h = lock.unlock(store.engine, unlock, now, force=force)
                typer.echo(f"removed the lock of run {h.run_id} (pid {h.pid} on {h.host})" if h
                           else f"ruleset {unlock!r} holds no lock")
                return
            rows = store.list_runs(name, limit)
        finally:
            store.dispose()
        data = [_jsonable(r) for r in rows]
        emit(fmt, data=data, rows=[{k: v for k, v in r.items() if k not in ("events",
                                                                            "timings")}
                                   for r in data],
             table=lambda: print_runs(rows))


def print_runs(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from tiers.cli.render import console

    c = console()
    if not rows:
        c.print("no runs recorded")
        return
    table = Table(title="Runs", title_justify="left")
    for col in ("Run", "Ruleset", "As of", "Status", "Customers", "Changed", "Intents",
                "Done", "Failed", "Started (UTC)", "Seconds"):
        table.add_column(col, justify="right" if col in (
            "Run", "Customers", "Changed", "Intents", "Done", "Failed", "Seconds")
            else "left")
    for r in rows:
        secs = ((r["finished_at"] - r["started_at"]).total_seconds()
                if r["finished_at"] else None)
        table.add_row(str(r["id"]), r["ruleset"], f"{r['as_of']:%Y-%m-%d}", r["status"],
                      _n(r["customers"]), _n(r["changed"]), _n(r["intents_planned"]),
                      _n(r["intents_done"]), _n(r["intents_failed"]),
                      f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                      f"{secs:.1f}" if secs is not None else "-")
    c.print(table)
    for r in rows:
        if r["error"] and r["status"] in ("failed", "abandoned"):
            c.print(f"run {r['id']}: {r['error']}")


def _n(v: Any) -> str:
    return f"{v:,}" if v is not None else "-"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for k in ("events", "timings"):
        if out.get(k):
            out[k] = json.loads(out[k])
    return out
