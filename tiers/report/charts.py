"""Plotly figures for the HTML report, one function per chart, each returning figure JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiers.report.data import Funnel, RfmGrid, TierRow
    from tiers.whatif.backtest import Backtest
    from tiers.whatif.diff import Migration

# one colour per rung, lowest first; longer ladders cycle
PALETTE = ["#9aa5b1", "#4c9be8", "#f2a93b", "#8e5bd6", "#2bb3a1", "#e4572e", "#5d6d7e"]
TEMPLATE = "plotly_white"


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _json(fig: Any) -> str:
    import plotly.io as pio

    # "</" would end the <script> element the JSON sits in
    return pio.to_json(fig, validate=True).replace("</", "<\\/")


def _layout(fig: Any, title: str, height: int = 380, **extra: Any) -> Any:
    fig.update_layout(title={"text": title, "x": 0.01}, template=TEMPLATE, height=height,
                      margin={"l": 60, "r": 20, "t": 60, "b": 50}, font={"size": 13}, **extra)
    return fig


def tier_distribution(tiers: list[TierRow]) -> str:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(
        x=[t.name for t in tiers], y=[t.customers for t in tiers],
        marker_color=[colour(i) for i in range(len(tiers))],
        text=[f"{t.customers:,}" for t in tiers], textposition="outside",
        hovertemplate="%{x}: %{y:,} customers<extra></extra>"))
    return _json(_layout(fig, "Customers per tier", yaxis_title="customers"))


def customer_vs_spend_share(tiers: list[TierRow]) -> str:
    """Side by side per tier: its share of customers and its share of spend."""
    import plotly.graph_objects as go

    names = [t.name for t in tiers]
    fig = go.Figure([
        go.Bar(name="share of customers", x=names, y=[t.customer_share for t in tiers],
               marker_color="#9aa5b1", text=[f"{t.customer_share:.1%}" for t in tiers],
               textposition="outside"),
        go.Bar(name="share of spend", x=names, y=[t.spend_share for t in tiers],
               marker_color="#e4572e", text=[f"{t.spend_share:.1%}" for t in tiers],
               textposition="outside"),
    ])
    return _json(_layout(fig, "Share of customers vs share of spend", barmode="group",
                         yaxis={"tickformat": ".0%", "rangemode": "tozero"},
                         legend={"orientation": "h", "y": -0.15}))


def migration_heatmap(m: Migration) -> str:
    import plotly.graph_objects as go

    # highest tier on top, as on a ladder
    z = list(reversed(m.counts))
    fig = go.Figure(go.Heatmap(
        z=z, x=m.to_labels, y=list(reversed(m.from_labels)), colorscale="Blues",
        text=[[f"{n:,}" for n in row] for row in z], texttemplate="%{text}",
        hovertemplate="%{y} → %{x}: %{z:,}<extra></extra>", colorbar={"title": "customers"}))
    return _json(_layout(fig, "Tier migration matrix", xaxis_title="to",
                         yaxis_title="from", xaxis={"side": "bottom"}))


def migration_sankey(m: Migration) -> str:
    import plotly.graph_objects as go

    left = {t: i for i, t in enumerate(m.from_tiers)}
    right = {t: len(left) + j for j, t in enumerate(m.to_tiers)}
    links = m.links()
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": [*m.from_labels, *m.to_labels], "pad": 18, "thickness": 18,
              "color": [colour(i) for i in range(len(m.from_tiers))]
                       + [colour(j) for j in range(len(m.to_tiers))]},
        link={"source": [left[f] for f, _, _ in links], "target": [right[t] for _, t, _ in links],
              "value": [n for _, _, n in links],
              "color": ["rgba(150,150,150,0.25)" if f == t else
                        ("rgba(43,179,161,0.45)" if m.to_tiers.index(t) > m.from_tiers.index(f)
                         else "rgba(228,87,46,0.45)") for f, t, _ in links]}))
    return _json(_layout(fig, "Tier flow", height=420))


def rfm_grid(grid: RfmGrid) -> str:
    import plotly.graph_objects as go

    scores = [1, 2, 3, 4, 5]
    custom = [[(f"{v:.1f}" if v is not None else "-") for v in row] for row in grid.avg_m]
    fig = go.Figure(go.Heatmap(
        z=grid.counts, x=scores, y=scores, colorscale="YlOrRd", customdata=custom,
        text=[[f"{n:,}" for n in row] for row in grid.counts], texttemplate="%{text}",
        hovertemplate="R=%{x} F=%{y}: %{z:,} customers, average M %{customdata}<extra></extra>",
        colorbar={"title": "customers"}))
    return _json(_layout(fig, f"RFM grid ({grid.policy}): recency × frequency scores",
                         xaxis={"title": "recency score (5 = most recent)", "dtick": 1},
                         yaxis={"title": "frequency score", "dtick": 1}))


def lifecycle_funnel(funnel: Funnel) -> str:
    import plotly.graph_objects as go

    fig = go.Figure(go.Funnel(
        y=[s for s, _ in funnel.stages], x=[n for _, n in funnel.stages],
        textinfo="value+percent initial", marker={"color": "#4c9be8"}))
    return _json(_layout(fig, "Lifecycle funnel", yaxis={"automargin": True}))


def backtest_series(b: Backtest) -> str:
    """Customers per tier at each evaluation date, stacked."""
    import plotly.graph_objects as go

    dates = [p.as_of.date().isoformat() for p in b.periods]
    fig = go.Figure()
    for i, tier in enumerate(b.ruleset.model.tiers):
        fig.add_trace(go.Scatter(
            x=dates, y=[p.tiers[tier.id] for p in b.periods], name=tier.label,
            mode="lines+markers", stackgroup="tiers", line={"color": colour(i)}))
    return _json(_layout(fig, f"Backtest {b.ruleset.name}: customers per tier",
                         yaxis_title="customers", legend={"orientation": "h", "y": -0.15}))


def backtest_moves(b: Backtest) -> str:
    """Upgrades, downgrades and customers held by retention, per period."""
    import plotly.graph_objects as go

    periods = b.periods[1:] or b.periods
    dates = [p.as_of.date().isoformat() for p in periods]
    fig = go.Figure([
        go.Bar(name="upgraded", x=dates, y=[p.moves["upgraded"] for p in periods],
               marker_color="#2bb3a1"),
        go.Bar(name="downgraded", x=dates, y=[-p.moves["downgraded"] for p in periods],
               marker_color="#e4572e", customdata=[p.moves["downgraded"] for p in periods],
               hovertemplate="%{x}: %{customdata:,} downgraded<extra></extra>"),
        go.Scatter(name="kept above earned tier", x=dates, y=[p.protected_total for p in periods],
                   mode="lines+markers", line={"color": "#8e5bd6"}),
    ])
    return _json(_layout(fig, f"Backtest {b.ruleset.name}: moves per period", barmode="relative",
                         yaxis_title="customers", legend={"orientation": "h", "y": -0.15}))
