"""The command line, through typer's runner and (for start-up cost) a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from .conftest import REPO


@pytest.fixture(scope="module")
def rulesets(tmp_path_factory: pytest.TempPathFactory):
    """A copy of the bundled rulesets: runs record state and exports beside the ruleset, and
    the checkout must stay as it is."""
    import shutil

    target = tmp_path_factory.mktemp("cli") / "rulesets"
    shutil.copytree(REPO / "rulesets", target, ignore=shutil.ignore_patterns(".tiers", "rejects"))
    return target


@pytest.fixture
def retail(rulesets):
    return rulesets / "retail.yaml"


def test_run_retail_sample_prints_the_tier_table(cli, retail):
    res = cli("run", retail)
    assert res.exit_code == 0, res.output
    for name in ("普通会员", "高级会员", "VIP会员", "Share of spend"):
        assert name in res.output
    assert "as of 2026-11-21" in res.output


def test_run_json_matches_out_file(cli, tmp_path, retail):
    out = tmp_path / "assignments.parquet"
    res = cli("run", retail, "--format", "json", "--out", out)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    table = pq.read_table(out)
    assert summary["customers"] == table.num_rows > 1000
    counts = {t["tier"]: t["customers"] for t in summary["tiers"]}
    tiers = table.column("tier").to_pylist()
    assert counts == {t: tiers.count(t) for t in ("normal", "senior", "vip")}
    assert sum(t["customer_share"] for t in summary["tiers"]) == pytest.approx(1.0)
    for column in ("customer_id", "tier", "spend", "orders", "recency_days", "tenure_days",
                   "avg_order_value"):
        assert column in table.column_names
    # the spend ladder holds row by row as a floor: under `highest`, frequency and
    # satisfaction bands may grant more, never less
    order = ["normal", "senior", "vip"]
    for spend, tier in zip(table.column("spend").to_pylist(), tiers, strict=True):
        floor = "vip" if spend >= 5000 else "senior" if spend >= 1000 else "normal"
        assert order.index(tier) >= order.index(floor)
    assert any(order.index(t) > order.index(
        "vip" if s >= 5000 else "senior" if s >= 1000 else "normal")
        for s, t in zip(table.column("spend").to_pylist(), tiers, strict=True))


def test_run_out_csv_has_one_row_per_customer(cli, tmp_path, retail):
    out = tmp_path / "a.csv"
    res = cli("run", retail, "--out", out)
    assert res.exit_code == 0, res.output
    lines = out.read_text(encoding="utf-8").splitlines()
    ids = [line.split(",")[0] for line in lines[1:]]
    assert len(ids) == len(set(ids)) == 4000


def test_as_of_changes_the_evaluation(cli, retail):
    now = json.loads(cli("run", retail, "--format", "json").stdout)
    before = json.loads(cli("run", retail, "--format", "json", "--as-of", "2025-06-30").stdout)
    assert before["as_of"] == "2025-06-30"
    assert before["customers"] < now["customers"]
    assert before["tiers"] != now["tiers"]


def test_bad_as_of_is_a_clear_error(cli, retail):
    res = cli("run", retail, "--as-of", "30/06/2026")
    assert res.exit_code != 0
    assert "is not a date: use YYYY-MM-DD" in res.output


def test_unsupported_out_type_writes_nothing(cli, tmp_path, retail):
    out = tmp_path / "a.xlsx"
    res = cli("run", retail, "--out", out)
    assert res.exit_code != 0
    assert "name a file ending in .csv or .parquet" in res.output
    assert list(tmp_path.iterdir()) == []


def test_validate_ok_and_failing(cli, make_ruleset, retail):
    ok = cli("validate", retail)
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = make_ruleset("name: x\nsources: {}\ntiers: []\npolicies: []\n")
    res = cli("validate", bad)
    assert res.exit_code == 2
    assert "problems found" in res.output
    assert f"{bad}:2: sources:" in res.output
    assert "Traceback" not in res.output


def test_plugins_lists_builtins(cli):
    res = cli("plugins")
    assert res.exit_code == 0
    for name in ("csv", "spend", "frequency", "threshold", "built-in"):
        assert name in res.output
    listing = json.loads(cli("plugins", "--json").stdout)
    by_name = {p["name"]: p for p in listing if "name" in p}
    assert by_name["tiers.plugins.policies.spend"]["policies"] == ["spend", "threshold"]


def test_help_does_not_import_the_engine():
    code = ("import sys\nfrom tiers.cli.app import build_app\nbuild_app()\n"
            "heavy = [m for m in ('ibis', 'duckdb', 'pyarrow', 'pandas') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    help_out = subprocess.run([sys.executable, "-m", "tiers", "--help"], capture_output=True,
                              text=True, check=True)
    assert "run" in help_out.stdout and "validate" in help_out.stdout


def test_help_lists_every_command_without_loading_sources_policies_or_actions():
    from tiers.cli.app import app

    names = [c.name for c in app.registered_commands]
    assert {"diff", "backtest", "report", "runs", "history", "explain"} <= set(names)
    code = ("import sys\nfrom tiers.cli.app import main\nsys.argv = ['tiers', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', [m for m in sys.modules if m.startswith('tiers.plugins.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "COLUMNS": "200"}).stdout
    assert out.strip().endswith("LOADED []")
    listed = set(re.findall(r"^  (\S+) ", out.split("Commands:", 1)[1], flags=re.M))
    assert set(names) <= listed
