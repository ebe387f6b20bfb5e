"""Output that survives a pipe: full values in tables written to a pipe or a file, and the
same rows in `--format table`, `json` and `csv` on every command that prints a table."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, write_csv

# longer than any column an 80-column table could give it
LONG_ID = "CUSTOMER-2026-0000000000000000000000000000000001-NORTH-EAST-REGION"
OTHER_ID = "C2"


def tiers(*args: object, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, stdout a pipe, 80 columns as a terminal would default to."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    env.pop("CI", None)
    res = subprocess.run([sys.executable, "-m", "tiers", *map(str, args)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=300)
    if check:
        assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    write_csv(root / "data" / "orders.csv", ["order_id", "customer_id", "order_ts", "amount"],
              [("O1", LONG_ID, "2026-05-01 10:00:00", "6000.00"),
               ("O2", OTHER_ID, "2026-05-02 10:00:00", "120.00")])
    (root / "shop.yaml").write_text(textwrap.dedent("""\
        name: shop-with-a-rather-long-ruleset-name-for-the-tables
        as_of: 2026-06-01
        sources:
          orders: {type: csv, path: data/orders.csv}
        window: {kind: rolling, days: 365}
        tiers:
          - id: normal
          - id: vip
        policies:
          - type: spend
            thresholds: {vip: 5000}
        actions:
          - type: coupon
            id: vip_welcome_coupon_with_a_long_identifier
            when: {tier: vip}
            value: 50
        """), encoding="utf-8")
    tiers("run", "shop.yaml", cwd=root)
    return root


def parsed(cmd: list[str], project: Path) -> tuple[str, object, list[dict[str, str]]]:
    """The command's table, JSON document and CSV rows."""
    table = tiers(*cmd, cwd=project).stdout
    document = json.loads(tiers(*cmd, "--format", "json", cwd=project).stdout)
    rows = list(csv.DictReader(io.StringIO(tiers(*cmd, "--format", "csv", cwd=project).stdout)))
    return table, document, rows


def test_history_keeps_the_id_and_the_coupon_code_whole(project):
    table, document, rows = parsed(["history", LONG_ID, "-r", "shop.yaml"], project)
    code = json.loads(document["actions"][0]["result"])["code"]
    assert len(code) >= 19
    assert LONG_ID in table and code in table
    assert "…" not in table
    assert [r["record"] for r in rows] == ["tier", "action"]
    assert rows[1]["result"] == f"code: {code}" and rows[0]["customer_id"] == LONG_ID
    assert len(document["history"]) == 1 and len(document["actions"]) == 1


def test_runs_rows_agree_in_every_format(project):
    table, document, rows = parsed(["runs", "-r", "shop.yaml"], project)
    name = "shop-with-a-rather-long-ruleset-name-for-the-tables"
    assert name in table and "…" not in table
    assert [r["ruleset"] for r in document] == [r["ruleset"] for r in rows] == [name]
    assert [str(r["id"]) for r in document] == [r["id"] for r in rows] == ["1"]
    assert rows[0]["intents_done"] == "1" and " 1 │" in table


def test_plugins_names_are_whole(project):
    table, document, rows = parsed(["plugins"], project)
    names = [p["name"] for p in document if "name" in p]
    assert names == [r["plugin"] for r in rows]
    assert "tiers.plugins.actions.coupon" in names
    for name in names:
        assert name in table


def test_run_validate_explain_diff_backtest_give_the_same_rows(project):
    _, document, rows = parsed(["run", "shop.yaml", "--dry-run"], project)
    assert [t["tier"] for t in reversed(document["tiers"])] == [r["tier"] for r in rows]
    assert [int(r["customers"]) for r in rows] == [1, 1]

    table, document, rows = parsed(["validate", "shop.yaml"], project)
    assert "OK (2 tiers, 1 policy, 1 source, 1 action)" in table
    assert rows == [{k: str(v) for k, v in document.items()}]

    table, document, rows = parsed(["explain", "shop.yaml", LONG_ID], project)
    assert table.startswith(f"{LONG_ID} in ")
    assert document["customer_id"] == rows[0]["customer_id"] == LONG_ID
    assert rows[0]["tier"] == document["tier"] == "vip"
    assert float(rows[0]["metric.spend"]) == document["metrics"]["spend"] == 6000

    _, document, rows = parsed(["diff", "shop.yaml", "shop.yaml"], project)
    assert [(t["tier"], t["after"]) for t in document["tiers"]] == [
        (r["tier"], int(r["after"])) for r in rows]

    _, document, rows = parsed(["backtest", "shop.yaml", "--from", "2026-05-15",
                                "--to", "2026-06-01"], project)
    periods = document["backtests"][0]["periods"]
    assert [p["as_of"] for p in periods] == [r["as_of"] for r in rows]
    assert [p["tiers"]["vip"] for p in periods] == [int(r["tier.vip"]) for r in rows]


def test_old_spellings_still_work_with_a_warning(project):
    res = tiers("runs", "-r", "shop.yaml", "--json", cwd=project)
    assert json.loads(res.stdout)[0]["id"] == 1
    assert "--json is deprecated; use --format json" in res.stderr
    res = tiers("explain", "shop.yaml", LONG_ID, "--format", "text", cwd=project)
    assert res.stdout.startswith(f"{LONG_ID} in ")
    assert "use --format table" in res.stderr
    assert "--json" not in tiers("history", "--help", cwd=project).stdout


def test_an_unknown_format_is_a_usage_error(project):
    res = tiers("plugins", "--format", "xml", cwd=project, check=False)
    assert res.returncode == 2
    assert "--format 'xml': use table, json or csv" in res.stderr
