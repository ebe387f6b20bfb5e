"""The console of `tiers serve` in headless Chromium (the Debian chromium, driven by
playwright, as tests/test_report_browser.py does): the key is asked once, a customer is looked
up and explained, an order is simulated, the distribution chart draws, nothing errors and no
request leaves the server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .test_serve_process import KEY, retail, server  # noqa: F401 - fixtures

CHROMIUM = os.environ.get("TIERS_CHROMIUM") or shutil.which("chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium is not installed (.ci/setup.d installs it)")


def test_console_looks_up_simulates_and_charts(server, tmp_path):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    foreign: list[str] = []
    keys_sent: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

            def seen(r) -> None:
                if not r.url.startswith(server.url):
                    foreign.append(r.url)
                if "?" in r.url:
                    foreign.append(r.url)  # nothing goes in a query string
                if r.url.startswith(server.url + "/console/"):
                    keys_sent.append(r.headers.get("x-api-key", ""))

            page.on("request", seen)
            page.goto(server.url + "/")
            # selectors only: the page's Content-Security-Policy forbids evaluating strings
            # the key is asked first; a wrong one is refused and asked again
            page.wait_for_selector("#key-panel:not([hidden])")
            page.fill("#key", "not-the-key-0000000000")
            page.click("#key-form button")
            page.wait_for_selector("#key-error:not([hidden])")
            assert "not accepted" in page.inner_text("#key-error")
            problems[:] = [m for m in problems if "401" not in m]  # the refused fetch
            page.fill("#key", KEY)
            page.click("#key-form button")
            page.wait_for_selector("body[data-tiers=drawn]", timeout=60_000)
            bars = page.locator("#tier-chart .barlayer .point").count()
            assert page.evaluate("sessionStorage.getItem('tiers-api-key')") == KEY

            # a reload keeps the key for the visit: nothing is asked again
            page.reload()
            page.wait_for_selector("body[data-tiers=drawn]", timeout=60_000)
            assert page.locator("#key-panel").is_hidden()

            page.fill("#customer-id", "C00001")
            page.click("#search-form button")
            page.wait_for_selector("body[data-customer=C00001]")
            customer = page.inner_text("#customer")
            next_tier = page.inner_text("#next-tier")

            page.fill("#amount", "900")
            page.click("#simulate-form button")
            page.wait_for_selector("body[data-simulated=C00001]", timeout=60_000)
            simulated = page.inner_text("#simulated-tier")
            page.wait_for_timeout(300)
            shot = Path(os.environ.get("TIERS_SCREENSHOT_DIR", tmp_path)) / "serve-console.png"
            page.screenshot(path=str(shot), full_page=True)

            # an unknown id says so, and can still be simulated (a first order)
            page.fill("#customer-id", "NEW-MEMBER-1")
            page.click("#search-form button")
            page.wait_for_selector("#search-error:not([hidden])")
            unknown = page.inner_text("#search-error")
            problems[:] = [m for m in problems if "404" not in m]
            page.fill("#amount", "6000")
            page.click("#simulate-form button")
            page.wait_for_selector("body[data-simulated=NEW-MEMBER-1]", timeout=60_000)
            newcomer = page.inner_text("#simulated-tier")
        finally:
            browser.close()
    assert problems == []
    assert foreign == []
    assert keys_sent and set(keys_sent) == {"not-the-key-0000000000", KEY}
    assert bars == 3
    assert "C00001" in customer and "普通会员" in customer
    assert "spend" in customer and "Retention" in customer
    assert "needs 894.60 more spend" in next_tier
    assert simulated == "高级会员"            # 105.40 + 900 passes the 1,000 of senior
    assert "is not in the data" in unknown
    assert newcomer == "VIP会员"              # 6,000 in a first order passes 5,000
    assert shot.stat().st_size > 30_000
