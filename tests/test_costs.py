"""What actions would hand out, in `tiers diff` and `tiers backtest`, against hand counts.

Tiers on the shared small data set (see whatif_data.py), rolling 28-day spend:

| as of      | old (silver 100, gold 500)    | new (silver 130, gold 140) |
|------------|-------------------------------|----------------------------|
| 2025-02-01 | A gold, B bronze, D bronze    |                            |
| 2025-03-01 | A silver, B gold, C silver, D | A gold, B gold, C bronze   |
| 2025-04-01 | A bronze, B gold, C bronze, D |                            |
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from tiers.cli.app import app, build_app
from tiers.ruleset.loader import load_ruleset
from tiers.whatif.backtest import backtest
from tiers.whatif.diff import diff_rulesets

from .whatif_data import ORDERS, ruleset

COUPON = """\
actions:
  - type: coupon
    id: thanks
    when: {{tier: [silver, gold]}}
    period: {period}
    value: {{silver: 20, gold: 50}}{budget}
  - type: dedicated_rep
    id: rep
    when: {{tier: gold}}
    roster: reps.csv
"""


def actions(period: str = "month", budget: str = "") -> str:
    return COUPON.format(period=period, budget=budget)


@pytest.fixture
def write_reps(tmp_path):
    (tmp_path / "reps.csv").write_text("rep_id,name,capacity\nr1,Ann,1\n", encoding="utf-8")


def figures(d, action):
    (row,) = [a for a in d.actions if a["action"] == action]
    return {name: (v["before"], v["after"]) for name, v in row["figures"].items()}


def load(path, registry):
    pm, reg = registry
    return load_ruleset(path, registry=reg, pm=pm)


def test_diff_counts_coupon_value_and_reps_against_capacity(make_ruleset, registry,
                                                             write_reps):
    old = make_ruleset(ruleset("old", extra=actions()), "old.yaml", orders=ORDERS)
    new = make_ruleset(ruleset("new", silver=130, gold=140, extra=actions()), "new.yaml")
    d = diff_rulesets(load(old, registry), load(new, registry))
    # old: A silver 20 + B gold 50 + C silver 20; new: A gold 50 + B gold 50
    assert figures(d, "thanks") == {"coupons": (3, 2), "value": (90, 100)}
    # one rep seat: old needs B only; new needs A and B, one beyond capacity
    assert figures(d, "rep") == {"customers with a rep": (1, 2), "roster capacity": (1, 1),
                                 "customers beyond capacity": (0, 1)}


def test_diff_caps_coupon_value_at_the_budget(make_ruleset, registry, write_reps):
    old = make_ruleset(ruleset("old", extra=actions(budget="\n    budget: 95")), "old.yaml",
                       orders=ORDERS)
    new = make_ruleset(ruleset("new", silver=130, gold=140,
                               extra=actions(budget="\n    budget: 95")), "new.yaml")
    d = diff_rulesets(load(old, registry), load(new, registry))
    assert figures(d, "thanks") == {"coupons": (3, 2), "value": (90, 95),
                                    "value over budget": (0, 5)}


def test_diff_starts_from_the_live_state_for_events(make_ruleset, tmp_path):
    hook = """\
actions:
  - type: webhook
    id: notify_down
    when: {event: downgraded}
    url: http://127.0.0.1:9/never-called
"""
    old = make_ruleset(ruleset("old", extra=hook), "old.yaml", orders=ORDERS)
    new = make_ruleset(ruleset("new", silver=130, gold=140, extra=hook), "new.yaml")
    build_app()
    runner = CliRunner()
    # first live run as of 2025-02-01 records A gold, B and D bronze; nothing is downgraded
    first = runner.invoke(app, ["run", str(old), "--as-of", "2025-02-01"])
    assert first.exit_code == 0, first.output
    res = runner.invoke(app, ["diff", str(old), str(new), "--format", "json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["actions"]
    # from the live state: A gold -> silver is a downgrade under old, not under new (gold)
    assert row["figures"]["webhook intents"] == {"before": 1, "after": 0}
    table = runner.invoke(app, ["diff", str(old), str(new)])
    assert "Actions this run would plan" in table.output and "notify_down" in table.output
    # and without the store, nobody was anything before: no downgrades on either side
    (tmp_path / ".tiers" / "state.db").unlink()
    res = runner.invoke(app, ["diff", str(old), str(new), "--format", "json"])
    (row,) = json.loads(res.stdout)["actions"]
    assert row["figures"]["webhook intents"] == {"before": 0, "after": 0}


DATES = [dt.datetime(2025, 2, 1), dt.datetime(2025, 3, 1), dt.datetime(2025, 4, 1)]


@pytest.mark.parametrize(("period", "coupons", "value"), [
    # a monthly coupon goes to every silver or gold customer in each period
    ("month", [1, 3, 1], [50, 90, 50]),
    # a yearly one once per customer and tier: B's gold in April was counted in March
    ("year", [1, 3, 0], [50, 90, 0]),
])
def test_backtest_counts_each_intent_once_per_its_period(make_ruleset, registry, write_reps,
                                                         period, coupons, value):
    path = make_ruleset(ruleset("bt", extra=actions(period)), orders=ORDERS)
    b = backtest(load(path, registry), DATES)
    assert [p.cost["thanks.coupons"] for p in b.periods] == coupons
    assert [p.cost["thanks.value"] for p in b.periods] == value
    # reps are a standing level: customers holding gold in each period
    assert [p.cost["rep.customers with a rep"] for p in b.periods] == [1, 1, 1]


def test_backtest_table_shows_actions_per_period(make_ruleset, write_reps):
    path = make_ruleset(ruleset("bt", extra=actions()), orders=ORDERS)
    build_app()
    res = CliRunner().invoke(app, ["backtest", str(path), "--from", "2025-02-01",
                                   "--to", "2025-04-01", "--every", "month"])
    assert res.exit_code == 0, res.output
    table = res.output.split("Actions per period", 1)[1]
    (total,) = [ln for ln in table.splitlines() if ln.startswith("│ Total")]
    cells = [c.strip() for c in total.strip("│").split("│")]
    # coupon count and value summed over periods (1+3+1, 50+90+50); the rep figures
    # (customers with a rep, roster capacity) are levels, not sums
    assert cells == ["Total", "5", "190", "", ""]


def test_diff_leaves_out_what_the_ledger_already_issued(make_ruleset, registry, tmp_path):
    yearly = """\
actions:
  - type: coupon
    id: thanks
    when: {tier: [silver, gold]}
    period: year
    value: {silver: 20, gold: 50}
"""
    old = make_ruleset(ruleset("shop", extra=yearly), "old.yaml", orders=ORDERS)
    new = make_ruleset(ruleset("shop", silver=130, gold=140, extra=yearly), "new.yaml")
    build_app()
    first = CliRunner().invoke(app, ["run", str(old), "--as-of", "2025-02-01"])
    assert first.exit_code == 0, first.output  # issues A's gold coupon for 2025
    from tiers.cli.options import live_state

    store = live_state(load(old, registry), None)
    assert store is not None
    d = diff_rulesets(load(old, registry), load(new, registry), state=store)
    store.dispose()
    # old: A silver, B gold, C silver, all new keys; new: A gold was issued in February
    assert figures(d, "thanks") == {"coupons": (3, 1), "value": (90, 50)}
