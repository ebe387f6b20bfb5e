"""Make the report screenshots in docs/img/ from the retail sample.

    python scripts/report_screenshots.py [--chromium /usr/bin/chromium]

Writes docs/img/report-*.png (one per section) and prints the report's size. Needs the
Debian `chromium` and the `playwright` package (the test extra); no browser is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "rulesets" / "data" / "retail"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SECTIONS = {"report-overview.png": "header, .kpis, #tier-table, #section-tiers",
            "report-migration.png": "#section-migration",
            "report-segments.png": "#section-segments",
            "report-backtest.png": "#section-backtest"}


def ruleset(folder: Path, name: str, senior: int, vip: int) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"""\
name: {name}
description: E-commerce membership tiers by annual spend, with RFM and lifecycle segments
currency: CNY
as_of: 2026-11-21
sources:
  orders: {{type: csv, path: {DATA / "orders.csv"}, columns: {{order_ts: ordered_at}}}}
  customers: {{type: csv, path: {DATA / "customers.csv"}}}
window: {{kind: rolling, days: 365}}
retention: {{hold: {{months: 3}}, max_drop: 1}}
tiers:
  - {{id: normal, name: 普通会员}}
  - {{id: senior, name: 高级会员}}
  - {{id: vip, name: VIP会员}}
policies:
  - type: spend
    thresholds: {{senior: {senior}, vip: {vip}}}
  - type: rfm
  - type: lifecycle
""", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        new = ruleset(folder, "retail", 1000, 5000)
        old = ruleset(folder, "retail_before", 800, 4000)
        html = folder / "report.html"
        subprocess.run([sys.executable, "-m", "tiers", "report", str(new), "--html", str(html),
                        "--compare", str(old), "--backtest-from", "2025-11-21"], check=True)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(html.as_uri())
            page.wait_for_function("document.body.dataset.rendered !== undefined",
                                   timeout=120_000)
            for name, selector in SECTIONS.items():
                boxes = [b for b in (page.locator(s.strip()).bounding_box()
                                     for s in selector.split(",")) if b]
                top = min(b["y"] for b in boxes)
                bottom = max(b["y"] + b["height"] for b in boxes)
                page.screenshot(path=str(args.out / name), full_page=True,
                                clip={"x": 0, "y": top, "width": 1200, "height": bottom - top})
                print(f"wrote {args.out / name}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
