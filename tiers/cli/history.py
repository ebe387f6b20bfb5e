"""`tiers history CUSTOMER_ID`: a customer's tier timeline and the actions taken for them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tiers.cli.options import RulesetOpt, StateOpt, open_for_reading
from tiers.core.errors import TiersError


def history_command(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.", show_default=False)],
    ruleset: RulesetOpt = None,
    state: StateOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show a customer's tier timeline and every action intent for them."""
    from rich.table import Table

    from tiers.cli.common import reported
    from tiers.cli.render import console

    with reported():
        store, name = open_for_reading(ruleset, state)
        try:
            current = store.current_for(customer_id, name)
            history = store.history_for(customer_id, name)
            actions = store.ledger_for(customer_id, name)
        finally:
            store.dispose()
        if not (current or history or actions):
            raise TiersError(f"customer {customer_id!r} has no recorded history"
                             + (f" in ruleset {name!r}" if name else "")
                             + "; check the id (ids are case-sensitive)")
        if as_json:
            typer.echo(json.dumps({"current": current, "history": history, "actions": [
                {k: v for k, v in a.items() if k != "payload"} for a in actions]},
                default=str, indent=2, ensure_ascii=False))
            return
        c = console()
        for cur in current:
            held = f", held until {cur['held_until']:%Y-%m-%d}" if cur["held_until"] else ""
            c.print(f"{customer_id} in {cur['ruleset']}: {cur['tier']} since "
                    f"{cur['since']:%Y-%m-%d}{held}")
        if history:
            t = Table(title="Tier timeline", title_justify="left")
            for col in ("As of", "Ruleset", "Event", "From", "To", "Run"):
                t.add_column(col)
            for h in history:
                t.add_row(f"{h['at']:%Y-%m-%d}", h["ruleset"], h["event"], h["from_tier"] or "-",
                          h["to_tier"], str(h["run_id"]))
            c.print(t)
        if actions:
            t = Table(title="Actions", title_justify="left")
            for col in ("Planned (UTC)", "Action", "Type", "Event", "Period", "Status",
                        "Result"):
                t.add_column(col)
            for a in actions:
                t.add_row(f"{a['created_at']:%Y-%m-%d %H:%M}", a["action"], a["action_type"],
                          a["event"] + (f" {a['detail']}" if a["detail"] else ""), a["period"],
                          a["status"], _result(a))
            c.print(t)


def _result(a: dict[str, Any]) -> str:
    if a["status"] == "failed" or (a["status"] == "pending" and a["error"]):
        return a["error"] or ""
    if not a["result"]:
        return ""
    data = json.loads(a["result"])
    for k in ("code", "rep_id", "message_id", "path", "table", "status"):
        if data.get(k):
            return f"{k}: {data[k]}"
    return ""
