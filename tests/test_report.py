"""`tiers report`: the figures behind the page, and the page itself (without a browser)."""

from __future__ import annotations

import json
import re

import pytest

from .whatif_data import ORDERS, ruleset


@pytest.fixture
def small(make_ruleset):
    return make_ruleset(ruleset(), orders=ORDERS)


def specs(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="([\w-]+)-spec">(.*?)</script>',
                       html, flags=re.S)
    return {name: json.loads(body) for name, body in found}


def test_report_data_matches_hand_computed_figures(small, registry):
    from tiers.report.data import build
    from tiers.ruleset.loader import load_ruleset

    pm, reg = registry
    loaded = load_ruleset(small, registry=reg, pm=pm)
    data = build(loaded, since="2025-02-01")
    # as of 2025-03-01: A silver 150, B gold 700, C silver 120, D bronze 0
    assert [(t.tier, t.customers, t.spend) for t in data.tiers] == [
        ("bronze", 1, 0.0), ("silver", 2, 270.0), ("gold", 1, 700.0)]
    assert [round(t.customer_share, 2) for t in data.tiers] == [0.25, 0.5, 0.25]
    assert data.tiers[2].spend_share == pytest.approx(700 / 970)
    m = data.migration
    assert m is not None and data.migration_title == "2025-02-01 → 2025-03-01"
    assert m.count("gold", "silver") == 1 and m.count("bronze", "gold") == 1
    assert m.count("(new)", "silver") == 1 and m.moved == 3


def test_report_html_is_self_contained_with_every_chart(cli, small, tmp_path):
    out = tmp_path / "report.html"
    res = cli("report", small, "--html", out, "--since", "2025-02-01",
              "--backtest-from", "2025-02-01")
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and "4 customers as of 2025-03-01" in res.output
    html = out.read_text(encoding="utf-8")
    # nothing is fetched: no external scripts, stylesheets or images
    assert not re.search(r'(src|href)="(https?:)?//', html)
    figures = specs(html)
    assert set(figures) == {"tier-distribution", "share", "migration-heatmap",
                            "migration-sankey", "backtest-small", "backtest-moves-small"}
    assert figures["tier-distribution"]["data"][0]["y"] == [1, 2, 1]
    sankey = figures["migration-sankey"]["data"][0]
    assert sankey["type"] == "sankey" and sum(sankey["link"]["value"]) == 4
    heat = figures["migration-heatmap"]["data"][0]
    assert heat["type"] == "heatmap"
    series = figures["backtest-small"]["data"]
    assert [t["name"] for t in series] == ["Bronze", "Silver", "Gold"]
    assert series[2]["y"] == [1, 1]  # gold on 2025-02-01 and 2025-03-01
    assert 1_000_000 < len(html) < 3_000_000  # plotly.js embedded compressed


def test_report_rejects_conflicting_migration_options(cli, small, tmp_path):
    out = tmp_path / "r.html"
    res = cli("report", small, "--html", out, "--since", "2025-02-01", "--compare", small)
    assert res.exit_code == 2
    assert "--compare and --since both set a migration" in res.output
    assert not out.exists()


def test_report_rejects_since_after_the_report_date(cli, small, tmp_path):
    res = cli("report", small, "--html", tmp_path / "r.html", "--since", "2025-06-01")
    assert res.exit_code == 2
    assert "--since 2025-06-01 must be before the report date 2025-03-01" in res.output


def test_report_rejects_a_non_html_file_name(cli, small, tmp_path):
    out = tmp_path / "report.pdf"
    res = cli("report", small, "--html", out)
    assert res.exit_code == 2
    assert "unsupported file type '.pdf'" in res.output and ".html" in res.output
    assert list(tmp_path.glob("*.pdf")) == [] and list(tmp_path.glob(".report*")) == []


def test_report_rejects_a_bad_backtest_date(cli, small, tmp_path):
    res = cli("report", small, "--html", tmp_path / "r.html", "--backtest-from", "soon")
    assert res.exit_code == 2
    assert "--backtest-from 'soon' is not a date" in res.output


def test_report_cannot_write_under_a_file(cli, small, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = cli("report", small, "--html", blocker / "r.html")
    assert res.exit_code == 1
    assert "is a file, so nothing can be written under it" in res.output


def test_report_data_rfm_grid_and_lifecycle_funnel(make_ruleset, registry):
    from tiers.report.data import build
    from tiers.ruleset.loader import load_ruleset

    pm, reg = registry
    extra = "  - type: rfm\n  - type: lifecycle\n"
    loaded = load_ruleset(make_ruleset(ruleset(extra=extra), orders=ORDERS), registry=reg, pm=pm)
    data = build(loaded)
    (grid,) = data.rfm
    assert grid.policy == "rfm" and grid.scored == 4
    # as of 2025-03-01: C's first order was 9 days before (new); A, B, D bought within 90 days
    (funnel,) = data.lifecycle
    assert funnel.states == [("new", 1), ("active", 3)]
    assert funnel.stages == [("all customers", 4), ("bought at least once", 4),
                             ("not churned", 4), ("active", 4)]


def test_report_shows_the_migration_since_the_last_recorded_run(cli, small, tmp_path):
    first = cli("run", small, "--as-of", "2025-02-01")
    assert first.exit_code == 0, first.output
    out = tmp_path / "report.html"
    res = cli("report", small, "--html", out)
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert "since the last recorded run (2025-02-01) → 2025-03-01" in html
    heat = specs(html)["migration-heatmap"]["data"][0]
    # A gold -> silver, B bronze -> gold, C new -> silver, D bronze -> bronze
    cells = {(y, x): n for y, row in zip(heat["y"], heat["z"], strict=True)
             for x, n in zip(heat["x"], row, strict=True) if n}
    assert cells == {("Gold", "Silver"): 1, ("Bronze", "Gold"): 1, ("(new)", "Silver"): 1,
                     ("Bronze", "Bronze"): 1}
    # the report reads the store and writes nothing to it
    from tiers.store.location import sqlite_url
    from tiers.store.store import StateStore

    store = StateStore(sqlite_url(tmp_path / ".tiers" / "state.db"), create=False)
    assert len(store.list_runs()) == 1
    store.dispose()
