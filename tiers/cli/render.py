"""The one rendering path of every command: rich tables for people, JSON or CSV for scripts.

A table printed to a terminal fits its width; printed to a pipe or a file it is as wide as
its values, so no id, code or number is ever cut."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.core.words import counted

if TYPE_CHECKING:
    from rich.console import Console

    from tiers.core.plugins import Registry
    from tiers.engine.result import RunResult


# wide enough for any row; rich then sizes each column to its longest value
UNBOUNDED_WIDTH = 1_000_000


def console() -> Console:
    """Stdout: the terminal's width on a terminal, unbounded in pipes and files."""
    # rich is imported by what prints for people only: JSON and CSV go without it
    from rich.console import Console

    c = Console(highlight=False, soft_wrap=True)
    if not c.is_terminal:
        c = Console(highlight=False, soft_wrap=True, width=UNBOUNDED_WIDTH, no_color=True)
    return c


def emit(fmt: str, *, data: Any, rows: Iterable[Mapping[str, Any]],
         table: Callable[[], None]) -> None:
    """Print a command's result in ``fmt``: ``table`` draws it for people; ``data`` is its
    JSON document; ``rows`` the flat records of its main table, for CSV."""
    if fmt == "json":
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    elif fmt == "csv":
        sys.stdout.write(to_csv(rows))
    else:
        table()
    sys.stdout.flush()


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV with a header of every key met, in order of first appearance; lists joined by
    ``;``, None as an empty field."""
    rows = list(rows)
    header = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([_cell(r.get(k)) for k in header])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _money(value: float) -> str:
    return f"{value:,.2f}"


def print_run(result: RunResult, out: Path | None) -> None:
    from rich.table import Table

    c = console()
    model = result.ruleset.model
    currency = f" ({model.currency})" if model.currency else ""
    table = Table(title=f"{model.name}: tiers as of {result.as_of:%Y-%m-%d}",
                  title_justify="left")
    table.add_column("Tier")
    table.add_column("Id")
    table.add_column("Customers", justify="right")
    table.add_column("Share", justify="right")
    table.add_column(f"Spend{currency}", justify="right")
    table.add_column("Share of spend", justify="right")
    for row in reversed(result.summary):
        table.add_row(row.name, row.tier, f"{row.customers:,}", f"{row.customer_share:.1%}",
                      _money(row.spend), f"{row.spend_share:.1%}")
    total_spend = sum(r.spend for r in result.summary)
    table.add_section()
    table.add_row("Total", "", f"{result.customers:,}", "100.0%", _money(total_spend), "")
    c.print(table)
    for line in source_notes(result):
        c.print(line)
    if out is not None:
        c.print(f"wrote {counted(result.customers, 'row')} to {out}")


def source_notes(result: RunResult) -> list[str]:
    """One line per source that set rows aside (rejects, duplicates), from its load report."""
    notes = []
    for source in result.ruleset.sources.values():
        report = getattr(source, "report", None)
        if report is not None and (report.rejected or report.handled):
            notes.append(report.summary())
    return notes


def run_json(result: RunResult, out: Path | None) -> dict[str, Any]:
    return {
        "ruleset": result.ruleset.model.name,
        "as_of": result.as_of.date().isoformat(),
        "customers": result.customers,
        "tiers": [
            {"tier": r.tier, "name": r.name, "customers": r.customers,
             "customer_share": round(r.customer_share, 6), "spend": round(r.spend, 2),
             "spend_share": round(r.spend_share, 6)}
            for r in result.summary
        ],
        "out": str(out) if out else None,
    }


def tier_rows(result: RunResult) -> list[dict[str, Any]]:
    """The rows of the tier table, top tier first as the table shows them."""
    head = {"ruleset": result.ruleset.model.name, "as_of": result.as_of.date().isoformat()}
    return [{**head, **row} for row in reversed(run_json(result, None)["tiers"])]


def plugins_json(registry: Registry) -> list[dict[str, Any]]:
    return [
        {"name": p.name, "version": p.version, "distribution": p.distribution,
         "builtin": p.builtin, "tiers_requires": p.tiers_requires,
         **{f"{k}s" if k != "policy" else "policies": v for k, v in p.components.items()}}
        for p in registry.plugins.values()
    ] + [{"failed": f} for f in registry.failures] + [
        {"clash": registry.clash_message(kind, name), "kind": kind, "type": name,
         "plugins": [e.plugin for e in entries]}
        for (kind, name), entries in registry.clashes.items()
    ]


def plugin_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per loaded plugin, as the table shows them."""
    return [{"plugin": p.name, "version": p.version,
             "origin": "built-in" if p.builtin else (p.distribution or "local"),
             "sources": p.components["source"], "policies": p.components["policy"],
             "actions": p.components["action"]}
            for p in registry.plugins.values()]


def print_plugins(registry: Registry) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = console()
    table = Table(title="Loaded plugins", title_justify="left")
    for col in ("Plugin", "Version", "Sources", "Policies", "Actions"):
        table.add_column(col)
    for p in registry.plugins.values():
        origin = "built-in" if p.builtin else (p.distribution or "local")
        row_wise = {
            name for name in p.components["policy"]
            if getattr(registry.get("policy", name), "row_wise", False)
        }
        policies = [f"{n} (row-wise)" if n in row_wise else n for n in p.components["policy"]]
        table.add_row(f"{p.name}\n[dim]{origin}[/dim]", p.version,
                      ", ".join(p.components["source"]), ", ".join(policies),
                      ", ".join(p.components["action"]))
    c.print(table)
    for failure in registry.failures:
        c.print("[red]failed:[/red] " + escape(failure))
    for kind, name in registry.clashes:
        c.print("[red]clash:[/red] " + escape(str(registry.clash_message(kind, name))))
