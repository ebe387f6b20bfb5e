"""`tiers run` with a store (plan, actions summary, exit codes), `tiers runs` and
`tiers history`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.shop import write_shop

COUPON = """
    - type: coupon
      id: vip_discount
      when: {tier: vip}
      value: 50
    """


@pytest.fixture
def cli(monkeypatch):
    from tiers.cli.app import build_app

    monkeypatch.setenv("COLUMNS", "200")  # wide tables, no wrapped cells

    app = build_app()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, cli):
    ruleset = write_shop(tmp_path, COUPON)
    res = cli("run", ruleset, "--dry-run")
    assert res.exit_code == 0, res.output
    assert "Plan (dry run: nothing was written or sent)" in res.output
    assert "vip_discount" in res.output and "C1: 50 until" in res.output
    assert not (tmp_path / ".tiers").exists()


def test_run_prints_actions_then_runs_and_history_show_them(tmp_path, cli):
    ruleset = write_shop(tmp_path, COUPON)
    res = cli("run", ruleset)
    assert res.exit_code == 0, res.output
    assert "vip_discount" in res.output and "run 1 recorded" in res.output
    data = json.loads(cli("run", ruleset, "--format", "json", "--as-of", "2026-06-02").stdout)
    assert data["actions"][0] == {**data["actions"][0], "planned": 3, "new": 3, "done": 3}
    runs = cli("runs", "--ruleset", ruleset)
    assert runs.exit_code == 0, runs.output
    assert "2026-06-01" in runs.output and "2026-06-02" in runs.output
    listed = json.loads(cli("runs", "--ruleset", ruleset, "--json").stdout)
    assert [(r["id"], r["status"], r["customers"]) for r in listed] == [
        (2, "done", 6), (1, "done", 6)]
    hist = cli("history", "C1", "--ruleset", ruleset)
    assert hist.exit_code == 0, hist.output
    assert "C1 in shop: vip since 2026-06-01" in hist.output
    assert "entered" in hist.output and "code: " in hist.output
    hist_json = json.loads(cli("history", "C1", "-r", ruleset, "--json").stdout)
    assert [a["period"] for a in hist_json["actions"]] == ["2026-06-01", "2026-06-02"]


def test_failed_intents_exit_5_with_how_to_retry(tmp_path, cli):
    ruleset = write_shop(tmp_path, """
        - type: webhook
          when: {tier: vip}
          url: http://127.0.0.1:9/unreachable
          retries: 0
        """)
    res = cli("run", ruleset)
    assert res.exit_code == 5
    assert "3 intents failed." in res.output
    assert f"tiers run {ruleset}` again" in res.output


def test_history_of_unknown_customer_and_missing_store(tmp_path, cli):
    ruleset = write_shop(tmp_path)
    res = cli("history", "C1", "--ruleset", ruleset)
    assert res.exit_code == 6 and "no state store at" in res.output
    cli("run", ruleset)
    res = cli("history", "c1", "--ruleset", ruleset)
    assert res.exit_code == 8 and "customer 'c1' has no recorded history" in res.output
