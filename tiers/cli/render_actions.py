"""Terminal and JSON renderings of what a run changed and what its actions did."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.cli.render import console
from tiers.core import exits
from tiers.core.words import counted

if TYPE_CHECKING:
    from tiers.engine.result import RunResult

EXIT_FAILED_INTENTS = exits.ACTIONS
SAMPLE = 3


def print_actions(result: RunResult, ruleset: Path) -> None:
    c = console()
    for note in result.notes:
        c.print(f"note: {note}")
    if result.event_counts:
        parts = [f"{name} {n:,}" for name, n in sorted(result.event_counts.items())]
        c.print("What changed: " + ", ".join(parts))
    if result.dry_run:
        _print_plan(result)
        return
    applied = result.applied
    if applied is None:
        return
    from rich.table import Table

    table = Table(title="Actions", title_justify="left")
    for col in ("Action", "Type", "Planned", "New", "Resumed", "Done", "Failed", "Waiting"):
        table.add_column(col, justify="left" if col in ("Action", "Type") else "right")
    for a in applied.actions:
        table.add_row(a.action, a.type, f"{a.planned:,}", f"{a.new:,}", f"{a.resumed:,}",
                      f"{a.done:,}", f"[red]{a.failed:,}[/red]" if a.failed else "0",
                      f"{a.deferred:,}")
    if applied.actions:
        c.print(table)
    for a in applied.actions:
        for note in a.notes:
            c.print(f"{a.action}: {note}")
        for error in a.errors:
            c.print(f"[red]{a.action} failed:[/red] {error}")
    for action, n in applied.orphans.items():
        c.print(f"note: {counted(n, 'open intent')} belong to action {action!r}, which is no "
                "longer in "
                "the ruleset; they are left as they are")
    if applied.failed:
        c.print(f"[red]{counted(applied.failed, 'intent')} failed.[/red] Fix the cause and run "
                f"`tiers run {ruleset}` again: it resumes pending and failed intents only, "
                "and never repeats done ones.")
    if result.run is not None:
        c.print(f"run {result.run.id} recorded in the state store")


def _print_plan(result: RunResult) -> None:
    c = console()
    if not result.plans:
        c.print("Dry run: no actions to plan; nothing was written.")
        return
    from rich.table import Table

    table = Table(title="Plan (dry run: nothing was written or sent)", title_justify="left")
    for col in ("Action", "Type", "Intents", "Already issued", "Sample"):
        table.add_column(col, justify="right" if col in ("Intents", "Already issued") else
                         "left")
    for plan in result.plans:
        sample = "\n".join(plan.action.describe(i) for i in plan.intents[:SAMPLE])
        table.add_row(plan.action.id, plan.action.name, f"{len(plan.intents):,}",
                      f"{plan.known:,}", sample or "-")
    c.print(table)


def actions_json(result: RunResult) -> dict[str, Any]:
    out: dict[str, Any] = {"events": result.event_counts, "dry_run": result.dry_run,
                           "notes": result.notes}
    if result.dry_run:
        out["plan"] = [{"action": p.action.id, "type": p.action.name,
                        "intents": len(p.intents), "already_issued": p.known,
                        "sample": [p.action.describe(i) for i in p.intents[:SAMPLE]]}
                       for p in result.plans]
    if result.applied is not None:
        out["actions"] = [{"action": a.action, "type": a.type, "planned": a.planned,
                           "new": a.new, "resumed": a.resumed, "done": a.done,
                           "failed": a.failed, "waiting": a.deferred, "stopped": a.stopped,
                           "errors": a.errors,
                           "notes": a.notes}
                          for a in result.applied.actions]
        out["run_id"] = result.run.id if result.run is not None else None
    return out


def exit_code(result: RunResult) -> int:
    """5 when the run is not complete: intents failed, or an action stopped after consecutive
    failures and left intents for the next run."""
    applied = result.applied
    incomplete = applied is not None and (applied.failed or applied.stopped)
    return EXIT_FAILED_INTENTS if incomplete else 0
