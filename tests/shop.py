"""A tiny shop for the state store and action tests: six customers with known tiers."""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import write_csv

# spend -> tier with thresholds senior 1000, vip 5000
CUSTOMERS = [
    ("C1", "Ann", "c1@example.com", "en", 6000),     # vip
    ("C2", "李雷", "c2@example.com", "zh-CN", 5500),  # vip
    ("C3", "Cara", "c3@example.com", "en", 2000),    # senior
    ("C4", "Dan", "c4@example.com", "en", 100),      # normal
    ("C5", "Eve <b>", "c5@example.com", "fr", 7000),  # vip; name tests HTML escaping
    ("C6", "Finn", "c6@example.com", "en", 1200),    # senior
]
VIPS = ["C1", "C2", "C5"]
AS_OF = "2026-06-01"

TEMPLATES = {
    "tier_up/subject.txt": "Welcome to {{ tier_name }}, {{ name }}",
    "tier_up/body.txt": "Hello {{ name }}, you are now {{ tier_name }}. Spend: {{ spend }}.",
    "tier_up/body.html": "<p>Hello {{ name }}, you are now <b>{{ tier_name }}</b>.</p>",
    "tier_up/zh-CN/subject.txt": "欢迎成为{{ tier_name }}，{{ name }}",
}


def write_shop(folder: Path, actions: str = "", spend: dict[str, float] | None = None,
               extra: str = "") -> Path:
    """Write data, templates and a ruleset into ``folder``; returns the ruleset path."""
    spend = {c[0]: c[4] for c in CUSTOMERS} | (spend or {})
    write_csv(folder / "data" / "customers.csv", ["customer_id", "name", "email", "locale"],
              [(c[0], c[1], c[2], c[3]) for c in CUSTOMERS])
    write_csv(folder / "data" / "orders.csv", ["order_id", "customer_id", "order_ts", "amount"],
              [(f"O{i}", cid, "2026-05-01 10:00:00", f"{amount:.2f}")
               for i, (cid, amount) in enumerate(spend.items())])
    for name, text in TEMPLATES.items():
        path = folder / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(text, encoding="utf-8")
    ruleset = folder / "shop.yaml"
    ruleset.write_text(textwrap.dedent(f"""\
        name: shop
        as_of: {AS_OF}
        sources:
          orders: {{type: csv, path: data/orders.csv}}
          customers: {{type: csv, path: data/customers.csv}}
        window: {{kind: rolling, days: 365}}
        tiers:
          - id: normal
          - id: senior
            name: Senior
          - id: vip
            name: VIP
        policies:
          - type: spend
            thresholds: {{senior: 1000, vip: 5000}}
        """) + textwrap.dedent(extra) + (
        "actions:\n" + textwrap.indent(textwrap.dedent(actions), "  ") if actions else ""),
        encoding="utf-8")
    return ruleset


def run_shop(ruleset: Path, state: Any, as_of: str | None = None, **kwargs: Any) -> Any:
    from tiers.core.plugins import get_plugin_manager
    from tiers.pipeline import run
    from tiers.ruleset.loader import load_ruleset

    pm, registry = get_plugin_manager(entry_points=False)
    loaded = load_ruleset(ruleset, registry=registry, pm=pm)
    return run(loaded, as_of=as_of, state=state, **kwargs)


def pg_url() -> str | None:
    return os.environ.get("TIERS_TEST_PG_URL")


# one coupon for the VIP tier, in the form write_shop's ``actions`` takes
COUPON = """
    - type: coupon
      id: vip_discount
      when: {tier: vip}
      value: 50
    """


def tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with a hash of its bytes: equal before and after
    a command when it wrote nothing."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))}
