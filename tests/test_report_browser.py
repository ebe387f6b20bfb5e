"""Open the generated report in headless Chromium: every chart draws, nothing errors, and no
request leaves the file. Needs the Debian `chromium` (.ci/setup.d/30-chromium.sh installs it)
and the `playwright` package, which drives that browser; no browser is ever downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiers.cli.app import app, build_app

from .conftest import REPO

CHROMIUM = os.environ.get("TIERS_CHROMIUM") or shutil.which("chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium is not installed (.ci/setup.d installs it)")

DATA = REPO / "rulesets" / "data" / "retail"


def sample_ruleset(tmp_path: Path, name: str, senior: int, vip: int) -> Path:
    """The retail sample with RFM and lifecycle segments, at the given thresholds."""
    text = f"""\
name: {name}
currency: CNY
as_of: 2026-11-21
sources:
  orders:
    type: csv
    path: {DATA / "orders.csv"}
    columns: {{order_ts: ordered_at}}
  customers:
    type: csv
    path: {DATA / "customers.csv"}
window: {{kind: rolling, days: 365}}
tiers:
  - {{id: normal, name: 普通会员}}
  - {{id: senior, name: 高级会员}}
  - {{id: vip, name: VIP会员}}
policies:
  - type: spend
    thresholds: {{senior: {senior}, vip: {vip}}}
  - type: rfm
  - type: lifecycle
"""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    new = sample_ruleset(tmp, "retail", 1000, 5000)
    old = sample_ruleset(tmp, "retail_before", 800, 4000)
    out = tmp / "report.html"
    build_app()
    res = CliRunner().invoke(app, ["report", str(new), "--html", str(out), "--compare", str(old),
                                   "--backtest-from", "2026-05-21"])
    assert res.exit_code == 0, res.output
    return out


def test_report_renders_every_chart_in_chromium(report_file, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url)
                    if not r.url.startswith(("file:", "data:", "blob:")) else None)
            page.goto(report_file.as_uri())
            page.wait_for_function("document.body.dataset.rendered !== undefined",
                                   timeout=90_000)
            rendered = page.evaluate("document.body.dataset.rendered")
            charts = page.locator(".chart").count()
            counts = {sel: page.locator(sel).count() for sel in (
                "#tier-distribution .barlayer .point", "#share .barlayer .point",
                "#migration-heatmap g.hm", "#migration-sankey g.sankey .sankey-node",
                "#migration-sankey g.sankey .sankey-link", "#rfm-rfm g.hm",
                "#lifecycle-lifecycle .funnellayer .point",
                "#backtest-retail .scatterlayer .trace",
                "#backtest-moves-retail .barlayer .point")}
            shot = Path(os.environ.get("TIERS_SCREENSHOT_DIR", tmp_path)) / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert requests == []
    assert rendered == str(charts) == "10"
    assert counts["#tier-distribution .barlayer .point"] == 3
    assert counts["#share .barlayer .point"] == 6      # customers and spend for 3 tiers
    assert counts["#migration-heatmap g.hm"] == 1
    assert counts["#migration-sankey g.sankey .sankey-node"] == 6
    assert counts["#migration-sankey g.sankey .sankey-link"] >= 3
    assert counts["#rfm-rfm g.hm"] == 1
    assert counts["#lifecycle-lifecycle .funnellayer .point"] == 4
    assert counts["#backtest-retail .scatterlayer .trace"] == 3
    assert counts["#backtest-moves-retail .barlayer .point"] >= 10
    assert shot.stat().st_size > 50_000
