from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RULESET = """\
name: shop
currency: {currency}
sources:
{others}  {role}:
{source}
tiers: [{{id: normal}}, {{id: vip}}]
policies:
  - type: spend
    thresholds: {{vip: 1000}}
"""


@pytest.fixture
def source_from(tmp_path: Path) -> Callable[..., Any]:
    """Build the `orders` source declared by a YAML snippet (relative paths in tmp_path)."""
    from tiers.core.plugins import get_plugin_manager
    from tiers.ruleset.loader import load_ruleset

    def build(snippet: str, currency: str = "CNY", role: str = "orders") -> Any:
        source = textwrap.indent(textwrap.dedent(snippet).strip(), "    ")
        # every ruleset needs orders; another table's ruleset names a file it never reads
        others = "" if role == "orders" else "  orders: {type: csv, path: unused.csv}\n"
        text = RULESET.format(currency=currency, source=source, role=role, others=others)
        path = tmp_path / "ruleset.yaml"
        path.write_text(text, encoding="utf-8")
        pm, registry = get_plugin_manager(entry_points=False)
        return load_ruleset(path, registry=registry, pm=pm, check_data=False).sources[role]

    return build


@pytest.fixture
def con() -> Any:
    import ibis

    return ibis.duckdb.connect()


def rows(table: Any, order_by: str = "order_id") -> list[dict[str, Any]]:
    return table.order_by(order_by).to_pyarrow().to_pylist()


def read_rejects(path: str | Path) -> list[dict[str, str]]:
    import csv

    limit = csv.field_size_limit()
    csv.field_size_limit(64 << 20)  # rejected overlong fields are written as they were
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    finally:
        csv.field_size_limit(limit)


@pytest.fixture(scope="session")
def make_httpserver() -> Any:
    """A real HTTP server on loopback; threaded, so a kept-alive connection cannot block a
    second one (redirects, Link headers)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()
