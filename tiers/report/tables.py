"""Rich tables shared by the `diff` and `backtest` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from tiers.whatif.diff import Migration, TierChange


def money(value: float) -> str:
    return f"{value:,.2f}"


def signed(value: float, fmt: str = ",.0f") -> str:
    return f"{value:+{fmt}}" if value else "0"


def matrix_table(m: Migration, title: str) -> Table:
    """Rows: the tier a customer came from; columns: where they went. Diagonal dimmed."""
    table = Table(title=title, title_justify="left")
    table.add_column("from \\ to")
    for label in m.to_labels:
        table.add_column(label, justify="right")
    table.add_column("Total", justify="right")
    for i, row in enumerate(m.counts):
        cells = []
        for j, n in enumerate(row):
            text = f"{n:,}"
            same = m.from_tiers[i] == m.to_tiers[j]
            cells.append(f"[dim]{text}[/dim]" if same or not n else f"[bold]{text}[/bold]")
        table.add_row(m.from_labels[i], *cells, f"{sum(row):,}")
    table.add_section()
    totals = [sum(r[j] for r in m.counts) for j in range(len(m.to_tiers))]
    table.add_row("Total", *(f"{n:,}" for n in totals), f"{m.total:,}")
    return table


def tier_change_table(changes: list[TierChange], title: str, currency: str | None) -> Table:
    """Customers and spend per tier on both sides; spend rounded to whole units to fit."""
    unit = f" ({currency})" if currency else ""
    table = Table(title=f"{title}{unit}", title_justify="left")
    table.add_column("Tier")
    for name in ("Before", "After", "Δ", "Spend before", "Spend after", "Δ spend"):
        table.add_column(name, justify="right", no_wrap=True)
    for c in reversed(changes):
        table.add_row(c.name, f"{c.before:,}", f"{c.after:,}", signed(c.delta),
                      f"{c.spend_before:,.0f}", f"{c.spend_after:,.0f}",
                      signed(round(c.spend_after - c.spend_before)))
    return table


def figure(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def cost_change_table(actions: list[dict[str, Any]], title: str) -> Table:
    """Per action and figure (coupons, value, emails...): before, after and the change."""
    table = Table(title=title, title_justify="left")
    table.add_column("Action")
    table.add_column("Figure")
    for name in ("Before", "After", "Δ"):
        table.add_column(name, justify="right", no_wrap=True)
    for a in actions:
        for i, (name, v) in enumerate(a["figures"].items()):
            change = v["after"] - v["before"]
            table.add_row(f"{a['action']} ({a['type']})" if i == 0 else "", name,
                          figure(v["before"]), figure(v["after"]),
                          ("+" if change > 0 else "") + figure(change))
    return table
