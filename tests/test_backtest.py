"""`tiers backtest`: the schedule, and period figures checked against hand-computed ones."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tiers.whatif.backtest import BacktestError, backtest, schedule
from tiers.whatif.diff import NEW

from .whatif_data import ORDERS, ruleset

DATES = [dt.datetime(2025, 2, 1), dt.datetime(2025, 3, 1), dt.datetime(2025, 4, 1)]


def test_schedule_months_keep_the_day_clamped():
    got = schedule(dt.date(2025, 1, 31), dt.date(2025, 4, 30), "month")
    assert [d.date() for d in got] == [dt.date(2025, 1, 31), dt.date(2025, 2, 28),
                                       dt.date(2025, 3, 31), dt.date(2025, 4, 30)]
    assert len(schedule(dt.date(2025, 1, 1), dt.date(2026, 10, 31), "month")) == 22
    assert len(schedule(dt.date(2025, 1, 1), dt.date(2025, 1, 29), "week")) == 5
    assert len(schedule(dt.date(2025, 1, 1), dt.date(2025, 12, 31), "quarter")) == 4


@pytest.mark.parametrize(("start", "end", "every", "message"), [
    (dt.date(2025, 2, 1), dt.date(2025, 1, 1), "month", "is before --from"),
    (dt.date(2025, 1, 1), dt.date(2025, 3, 1), "fortnight", "use one of day, week"),
    (dt.date(2000, 1, 1), dt.date(2025, 1, 1), "day", "more than 1000 periods"),
])
def test_schedule_rejects_bad_input(start, end, every, message):
    with pytest.raises(BacktestError, match=message):
        schedule(start, end, every)


@pytest.fixture
def small(make_ruleset, registry):
    from tiers.ruleset.loader import load_ruleset

    pm, reg = registry
    return load_ruleset(make_ruleset(ruleset(), orders=ORDERS), registry=reg, pm=pm)


def test_backtest_periods_match_hand_computed_figures(small):
    b = backtest(small, DATES)
    p1, p2, p3 = b.periods
    assert p1.tiers == {"bronze": 2, "silver": 0, "gold": 1}
    assert p1.moves == {"entered": 3, "upgraded": 0, "downgraded": 0, "unchanged": 0}
    # A gold -> silver, B bronze -> gold, C new (silver), D stays bronze
    assert p2.tiers == {"bronze": 1, "silver": 2, "gold": 1}
    assert p2.moves == {"entered": 1, "upgraded": 1, "downgraded": 1, "unchanged": 1}
    assert p2.matrix.count("gold", "silver") == 1
    assert p2.matrix.count("bronze", "gold") == 1
    assert p2.matrix.count(NEW, "silver") == 1
    assert p2.spend == {"bronze": 0.0, "silver": pytest.approx(270), "gold": pytest.approx(700)}
    # A silver -> bronze, C silver -> bronze
    assert p3.tiers == {"bronze": 3, "silver": 0, "gold": 1}
    assert p3.moves == {"entered": 0, "upgraded": 0, "downgraded": 2, "unchanged": 2}
    churn = b.churn()
    assert churn.counts == [[2, 0, 1], [2, 0, 0], [0, 1, 1]]


def test_backtest_cli_json_compares_two_rulesets(cli, make_ruleset, tmp_path):
    a = make_ruleset(ruleset("a"), "a.yaml", orders=ORDERS)
    b = make_ruleset(ruleset("b", silver=130, gold=140), "b.yaml")
    before = sorted(p.name for p in tmp_path.iterdir())
    res = cli("backtest", a, "--from", "2025-02-01", "--to", "2025-04-15", "--compare", b,
              "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["from"], doc["to"], doc["every"]) == ("2025-02-01", "2025-04-01", "month")
    first, second = doc["backtests"]
    assert [p["tiers"]["gold"] for p in first["periods"]] == [1, 1, 1]
    # b: gold from 140 -> Feb A 600; Mar A 150, B 700; Apr B 700
    assert [p["tiers"]["gold"] for p in second["periods"]] == [1, 2, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_backtest_cli_table(cli, make_ruleset):
    a = make_ruleset(ruleset("a"), "a.yaml", orders=ORDERS)
    res = cli("backtest", a, "--from", "2025-02-01", "--to", "2025-04-01")
    assert res.exit_code == 0, res.output
    assert "a: backtest, 3 periods every month" in res.output
    assert "2025-04-01" in res.output and "Moves between tiers" in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2025-13-01", "--to", "2025-04-01"], "--from '2025-13-01' is not a date"),
    (["--from", "2025-04-01", "--to", "2025-01-01"], "is before --from"),
    (["--from", "2025-01-01", "--to", "2025-04-01", "--every", "hour"], "--every 'hour'"),
    (["--from", "2025-01-01", "--to", "2025-04-01", "--format", "xml"],
     "use table, json or csv"),
])
def test_backtest_cli_bad_options(cli, make_ruleset, args, message):
    a = make_ruleset(ruleset("a"), "a.yaml", orders=ORDERS)
    res = cli("backtest", a, *args)
    assert res.exit_code == 2  # a bad option value: the command line is invalid
    assert message in res.output


def test_hold_protects_a_customer_across_two_periods(make_ruleset, registry):
    """A earns gold on 2025-02-01, held 70 days (to 2025-04-12): still gold on 03-01 and
    04-01 though it earns silver then bronze; on 05-01 the hold is over and A drops."""
    from tiers.ruleset.loader import load_ruleset

    pm, reg = registry
    path = make_ruleset(ruleset(extra="retention: {hold: {days: 70}}\n"), orders=ORDERS)
    loaded = load_ruleset(path, registry=reg, pm=pm)
    b = backtest(loaded, [*DATES, dt.datetime(2025, 5, 1)])
    p1, p2, p3, p4 = b.periods
    assert p1.tiers == {"bronze": 2, "silver": 0, "gold": 1}
    # A held gold (earned silver); B up to gold; C enters silver
    assert p2.tiers == {"bronze": 1, "silver": 1, "gold": 2}
    assert p2.protected == {"maintenance": 0, "hold": 1, "soft_landing": 0, "pin": 0}
    assert p2.moves == {"entered": 1, "upgraded": 1, "downgraded": 0, "unchanged": 2}
    # A still held gold (earned bronze), C held silver (earned bronze)
    assert p3.tiers == {"bronze": 1, "silver": 1, "gold": 2}
    assert p3.protected["hold"] == 2
    assert p3.moves["downgraded"] == 0
    # A's hold ended on 04-12: down to bronze; B (re-earned gold on 04-01) and C still held
    assert p4.tiers == {"bronze": 2, "silver": 1, "gold": 1}
    assert p4.matrix.count("gold", "bronze") == 1
    assert p4.protected["hold"] == 2


def test_soft_landing_limits_a_drop_to_one_level(make_ruleset, registry):
    """B is gold on 03-01 and 04-01 and earns bronze on 05-01: max_drop 1 lands it on silver."""
    from tiers.ruleset.loader import load_ruleset

    pm, reg = registry
    path = make_ruleset(ruleset(extra="retention: {max_drop: 1}\n"), orders=ORDERS)
    loaded = load_ruleset(path, registry=reg, pm=pm)
    p4 = backtest(loaded, [*DATES, dt.datetime(2025, 5, 1)]).periods[3]
    assert p4.tiers == {"bronze": 3, "silver": 1, "gold": 0}
    assert p4.matrix.count("gold", "silver") == 1
    assert p4.protected == {"maintenance": 0, "hold": 0, "soft_landing": 1, "pin": 0}


def test_backtest_without_retention_keeps_nobody(small):
    b = backtest(small, DATES)
    assert all(p.protected_total == 0 for p in b.periods)
