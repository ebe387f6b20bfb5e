"""Terminal and JSON renderings of results; rich tables on a terminal, plain text in pipes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from tiers.core.plugins import Registry
    from tiers.engine.result import RunResult


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def print_run(result: RunResult, out: Path | None) -> None:
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
        c.print(f"wrote {result.customers:,} rows to {out}")


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


def print_plugins(registry: Registry) -> None:
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
