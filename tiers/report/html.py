"""Render :class:`ReportData` as one self-contained HTML file.

The charts are Plotly figures; plotly.js comes from the installed ``plotly`` package and is
embedded in the page gzip-compressed (base64), which keeps a report near 2 MB instead of 5 MB.
The browser decompresses it with the standard ``DecompressionStream``, so opening the file needs
no network at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tiers.core.errors import UsageError
from tiers.core.files import write_text
from tiers.report import charts as c
from tiers.report.data import ReportError

if TYPE_CHECKING:
    from tiers.report.data import ReportData


@dataclass
class Chart:
    id: str
    section: str
    figure: str      # Plotly figure JSON
    caption: str = ""


@lru_cache(maxsize=1)
def plotly_js_gzip_b64() -> str:
    import plotly.offline

    js = plotly.offline.get_plotlyjs().encode("utf-8")
    # mtime=0 keeps the output byte-for-byte reproducible
    return base64.b64encode(gzip.compress(js, compresslevel=6, mtime=0)).decode("ascii")


def charts(data: ReportData) -> list[Chart]:

    out = [
        Chart("tier-distribution", "Tiers", c.tier_distribution(data.tiers),
              "How many customers hold each tier."),
        Chart("share", "Tiers", c.customer_vs_spend_share(data.tiers),
              "Each tier's share of all customers next to its share of all spend: a small top "
              "tier bringing a large part of revenue shows here."),
    ]
    if data.migration is not None:
        out += [
            Chart("migration-heatmap", "Migration", c.migration_heatmap(data.migration),
                  "Rows: tier before; columns: tier after; the diagonal kept their tier."),
            Chart("migration-sankey", "Migration", c.migration_sankey(data.migration),
                  "The same moves as flows: green up, red down, grey unchanged."),
        ]
    for grid in data.rfm:
        out.append(Chart(f"rfm-{grid.policy}", "Segments", c.rfm_grid(grid),
                         f"{grid.scored:,} scored customers by recency and frequency score; "
                         "hover for the average monetary score."))
    for funnel in data.lifecycle:
        states = ", ".join(f"{label} {n:,}" for label, n in funnel.states)
        out.append(Chart(f"lifecycle-{funnel.policy}", "Segments", c.lifecycle_funnel(funnel),
                         f"Each stage keeps the customers of the one above. States: {states}."))
    for b in data.backtests:
        out += [
            Chart(f"backtest-{b.ruleset.name}", "Backtest", c.backtest_series(b),
                  f"{len(b.periods)} evaluations every {b.every}, each carrying the previous "
                  "one's state."),
            Chart(f"backtest-moves-{b.ruleset.name}", "Backtest", c.backtest_moves(b),
                  "Upgrades above the axis, downgrades below; the line counts customers kept "
                  "above the tier they earn (maintenance, hold, soft landing or pin)."),
        ]
    return out


def render(data: ReportData) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tiers.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    items = charts(data)
    sections: dict[str, list[Chart]] = {}
    for chart in items:
        sections.setdefault(chart.section, []).append(chart)
    return env.get_template("report.html.j2").render(
        data=data, sections=sections, plotly_js=plotly_js_gzip_b64(),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        missing=missing_sections(data))


def missing_sections(data: ReportData) -> list[str]:
    """Why a section is absent, so a reader knows how to get it."""
    notes = []
    if data.migration is None:
        notes.append("Migration: run `tiers run` once (the report then shows the moves "
                     "since that run), or pass --compare OTHER.yaml or --since DATE.")
    if not data.rfm:
        notes.append("RFM grid: add an `rfm` policy to the ruleset.")
    if not data.lifecycle:
        notes.append("Lifecycle: add a `lifecycle` policy to the ruleset.")
    if not data.backtests:
        notes.append("Backtest: pass --backtest-from DATE (and --every) to replay the "
                     "ruleset over time.")
    return notes


def write_report(data: ReportData, path: Path) -> int:
    """Write the page atomically; returns its size in bytes."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--html {path}: the report is an HTML page; use a .html file name")
    text = render(data)
    try:
        write_text(path, text)
    except OSError as exc:
        raise ReportError(f"--html {path}: cannot write there ({exc.strerror})") from None
    return path.stat().st_size
