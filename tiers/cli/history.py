"""`tiers history CUSTOMER_ID`: a customer's tier timeline and the actions taken for them."""

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
from tiers.core.errors import CustomerNotFound


def history_command(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.", show_default=False)],
    ruleset: RulesetOpt = None,
    state: StateOpt = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Show a customer's tier timeline and every action intent for them."""
    from tiers.cli.common import reported
    from tiers.cli.render import emit

    with reported():
        fmt = output_format(fmt, as_json)
        store, name = open_for_reading(ruleset, state)
        try:
            current = store.current_for(customer_id, name)
            history = store.history_for(customer_id, name)
            actions = store.ledger_for(customer_id, name)
        finally:
            store.dispose()
        if not (current or history or actions):
            raise CustomerNotFound(f"customer {customer_id!r} has no recorded history"
                             + (f" in ruleset {name!r}" if name else "")
                             + "; check the id (ids are case-sensitive)")
        shown = [{k: v for k, v in a.items() if k != "payload"} for a in actions]
        emit(fmt, data={"current": current, "history": history, "actions": shown},
             rows=history_rows(customer_id, history, actions),
             table=lambda: print_history(customer_id, current, history, actions))


def history_rows(customer_id: str, history: list[dict[str, Any]],
                 actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline, then the actions, as one list of records (``record`` says which)."""
    rows: list[dict[str, Any]] = [
        {"record": "tier", "customer_id": customer_id, "at": h["at"], "ruleset": h["ruleset"],
         "event": h["event"], "from_tier": h["from_tier"], "to_tier": h["to_tier"],
         "run_id": h["run_id"]} for h in history]
    rows += [{"record": "action", "customer_id": customer_id, "at": a["created_at"],
              "ruleset": a.get("ruleset"), "event": a["event"], "run_id": a.get("run_id"),
              "action": a["action"], "action_type": a["action_type"],
              "detail": a["detail"], "period": a["period"], "status": a["status"],
              "result": _result(a)} for a in actions]
    return rows


def print_history(customer_id: str, current: list[dict[str, Any]],
                  history: list[dict[str, Any]], actions: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from tiers.cli.render import console

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
