"""An in-house plugin, installed as its own distribution with a `tiers` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tiers.core.errors import PluginError
from tiers.core.plugins import get_plugin_manager

PLUGIN = '''
from typing import Any
import tiers
from pydantic import Field


class BigBasketConfig(tiers.ComponentConfig):
    tier: str
    min_avg: float = Field(gt=0)


class BigBasketPolicy(tiers.Policy):
    """Grants a tier to customers whose average order is large."""

    name = "big_basket"
    Config = BigBasketConfig

    def metrics(self):
        return [self.context.metric("avg_order_value")]

    def rank(self, table):
        import ibis

        rank = self.context.ruleset.tier_ids().index(self.config.tier)
        return ibis.cases((table.avg_order_value >= self.config.min_avg, rank),
                          else_=ibis.null("int8")).cast("int8")


@tiers.hookimpl
def register_policies(register: Any) -> None:
    register(BigBasketPolicy)
'''

RULESET = """
name: inhouse
sources:
  orders: {type: csv, path: orders.csv}
tiers: [{id: normal}, {id: gold}]
policies:
  - type: big_basket
    tier: gold
    min_avg: 100
"""
ORDERS = [("customer_id", "order_ts", "amount"),
          ("a", "2025-03-01", "150"), ("a", "2025-04-01", "90"),
          ("b", "2025-03-01", "20"), ("b", "2025-05-01", "30")]


def install(site: Path, dist: str, module: str, source: str, ep_name: str | None = None) -> None:
    """Lay out a distribution as pip would: the module and its .dist-info with entry points."""
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[tiers]\n{ep_name or module} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    install(site, "acme-tiers", "acme_tiers", PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    return site


def run_cli(args: list[str], site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(site), **env}
    return subprocess.run([sys.executable, "-m", "tiers", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_entry_point_plugin_is_registered_with_its_distribution(site):
    _, registry = get_plugin_manager()
    assert registry.get("policy", "big_basket").__name__ == "BigBasketPolicy"
    info = registry.plugins["acme_tiers"]
    assert (info.distribution, info.version, info.builtin) == ("acme-tiers", "1.2.3", False)
    assert info.components["policy"] == ["big_basket"]


def test_builtins_are_not_affected_by_entry_points_flag():
    _, registry = get_plugin_manager(entry_points=False)
    assert registry.get("policy", "big_basket") is None
    assert registry.get("policy", "spend") is not None


def test_ruleset_uses_the_plugin_by_type_from_the_cli(site, make_ruleset, tmp_path):
    path = make_ruleset(RULESET, orders=ORDERS)
    out = tmp_path / "out.csv"
    proc = run_cli(["run", str(path), "--as-of", "2026-01-01", "--out", str(out)], site, tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = out.read_text().splitlines()
    assert rows[0].split(",")[:2] == ['"customer_id"', '"tier"']
    tiers = dict(line.replace('"', "").split(",")[:2] for line in rows[1:])
    assert tiers == {"a": "gold", "b": "normal"}
    listing = run_cli(["plugins"], site, tmp_path)
    assert "acme_tiers" in listing.stdout and "1.2.3" in listing.stdout
    assert "big_basket" in listing.stdout


def test_broken_plugin_is_reported_and_skipped(site, make_ruleset, tmp_path):
    install(site, "broken-tiers", "broken_tiers", "raise ImportError('needs libfoo')\n")
    _, registry = get_plugin_manager(strict=False)
    assert registry.get("policy", "big_basket") is not None
    assert any("broken_tiers" in f and "needs libfoo" in f for f in registry.failures)
    path = make_ruleset(RULESET, orders=ORDERS)
    proc = run_cli(["run", str(path), "--as-of", "2026-01-01"], site, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "broken_tiers" in proc.stderr and "skipped" in proc.stderr


def test_strict_mode_makes_a_broken_plugin_fatal(site, make_ruleset, tmp_path):
    install(site, "broken-tiers", "broken_tiers", "raise ImportError('needs libfoo')\n")
    with pytest.raises(PluginError, match="needs libfoo"):
        get_plugin_manager(strict=True)
    path = make_ruleset(RULESET, orders=ORDERS)
    proc = run_cli(["run", str(path)], site, tmp_path, TIERS_STRICT_PLUGINS="1")
    assert proc.returncode != 0
    assert "error:" in proc.stderr and "needs libfoo" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_hookimpl_not_in_spec_is_reported(site):
    install(site, "typo-tiers", "typo_tiers", """
        import tiers

        @tiers.hookimpl
        def register_polices(register):
            pass
    """)
    _, registry = get_plugin_manager(strict=False)
    assert any("typo_tiers" in f and "register_polices" in f for f in registry.failures)
    with pytest.raises(PluginError, match="register_polices"):
        get_plugin_manager(strict=True)


def test_duplicate_names_fail_only_the_rulesets_that_use_them(site, make_ruleset):
    install(site, "other-tiers", "other_tiers", PLUGIN.replace("Grants", "Also grants"))
    from tiers.core.errors import RulesetError
    from tiers.ruleset.loader import load_ruleset

    pm, registry = get_plugin_manager()
    message = registry.clash_message("policy", "big_basket")
    assert "acme-tiers" in message and "other-tiers" in message
    with pytest.raises(RulesetError, match="more than one plugin"):
        load_ruleset(make_ruleset(RULESET, orders=ORDERS), registry=registry, pm=pm)
