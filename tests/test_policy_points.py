"""`points`: per-order points x the tier held at order time, expiry, balance as a column."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.policytest import make_ruleset, run_rows
from tiers.core.errors import RulesetError
from tiers.plugins.policies.points import months_before
from tiers.ruleset.loader import load_ruleset

ORDERS = [
    ("a", "2025-12-15 10:00:00", "250.00"),   # before any history: x1, floor(2.5) = 2
    ("a", "2026-01-01 00:00:00", "199.99"),   # exactly when silver starts: 1 x 2 = 2
    ("a", "2026-03-01 00:00:00", "100.00"),   # exactly when silver ends / gold starts: 1 x 3
    ("a", "2026-05-01 10:00:00", "99.99"),    # rounded down per order: 0
    ("a", "2026-05-02 10:00:00", "-150.00"),  # refund while gold: -1 x 3
    ("a", "2026-07-01 00:00:00", "1000.00"),  # at as-of: not counted
    ("b", "2026-06-30 23:59:59", "550.00"),   # no history: x1 = 5
]
CUSTOMERS = [("a", "2020-01-01"), ("b", "2020-01-01"), ("c", "2020-01-01")]  # c: no orders
HISTORY = (["customer_id", "tier", "valid_from", "valid_to"], [
    ("a", "silver", "2026-01-01 00:00:00", "2026-03-01 00:00:00"),
    ("a", "gold", "2026-03-01 00:00:00", ""),  # still held
])

BODY = """
tiers: [{id: base}, {id: silver}, {id: gold}]
policies:
  - type: points
    per: 100
    multipliers: {silver: 2, gold: 3}
    thresholds: {silver: 4, gold: 5}
"""


def rows(tmp_path, body=BODY):
    path = make_ruleset(tmp_path, body, ORDERS, CUSTOMERS, tables={"tier_history": HISTORY})
    return run_rows(path)


def test_balance_and_tiers(tmp_path):
    got = rows(tmp_path)
    assert {c: r["points_balance"] for c, r in got.items()} == {"a": 4, "b": 5, "c": 0}
    assert {c: r["points_earned"] for c, r in got.items()} == {"a": 4, "b": 5, "c": 0}
    # a sits exactly on the silver threshold
    assert {c: r["tier"] for c, r in got.items()} == {"a": "silver", "b": "gold", "c": "base"}


def test_expiry(tmp_path):
    # expire after 6 months: the cut-off is 2026-01-01 00:00, and an order exactly then stays
    got = rows(tmp_path, BODY + "    expire_months: 6\n")
    assert got["a"]["points_balance"] == 2
    assert got["a"]["tier"] == "base"


def test_earned_in_window(tmp_path):
    body = BODY.replace("thresholds", "basis: window\n    window: {kind: quarter}\n"
                                      "    thresholds")
    got = rows(tmp_path, body)
    # Q2 2026: the 99.99 order (0) and the refund (-3)
    assert got["a"]["points_earned"] == -3
    assert got["a"]["points_balance"] == 4
    assert got["a"]["tier"] == "base" and got["b"]["tier"] == "gold"


def test_months_before_clamps_to_month_end():
    assert months_before(dt.datetime(2026, 5, 31), 3) == dt.datetime(2026, 2, 28)
    assert months_before(dt.datetime(2026, 1, 15), 13) == dt.datetime(2024, 12, 15)


def test_missing_history_source(tmp_path):
    path = make_ruleset(tmp_path, BODY, ORDERS, CUSTOMERS)
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    p = info.value.problems[0]
    assert p.path == "policies[0].history"
    assert "which no source provides" in p.message


def test_unknown_tier_in_multipliers(tmp_path):
    path = make_ruleset(tmp_path, BODY.replace("gold: 3", "gld: 3"), ORDERS, CUSTOMERS,
                        tables={"tier_history": HISTORY})
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    assert info.value.problems[0].path == "policies[0].multipliers.gld"


DECIMAL_ORDERS = [("a", "2026-03-02 00:00:00", "10000.00"),   # gold: 100 x 1.13 = 113
                  ("a", "2026-03-03 00:00:00", "-100.00"),    # gold refund: floor(-1.13) = -2
                  ("b", "2026-03-02 00:00:00", "700.00")]     # no history: 7 x 1
DECIMAL_HISTORY = (HISTORY[0], [("a", "gold", "2026-03-01 00:00:00", "")])
DECIMAL_BODY = BODY.replace("{silver: 2, gold: 3}", "{silver: 1.5, gold: 1.13}")


def decimal_ruleset(tmp_path):
    return make_ruleset(tmp_path, DECIMAL_BODY, DECIMAL_ORDERS, CUSTOMERS,
                        tables={"tier_history": DECIMAL_HISTORY})


def test_decimal_multipliers_are_exact(tmp_path):
    """1.13 x 100 points is 113, not the 112 a float 1.13 floors to; a refund rounds down
    (-1 x 1.13 = -1.13 -> -2). tests/test_spark_engine.py checks Spark gives the same."""
    got = run_rows(decimal_ruleset(tmp_path))
    assert {c: r["points_balance"] for c, r in got.items()} == {"a": 111, "b": 7, "c": 0}


def test_scaled_multipliers():
    from tiers.plugins.policies.points import scaled_multipliers

    assert scaled_multipliers({"s": 2, "g": 3.0}) == ({"s": 2, "g": 3}, 0)
    assert scaled_multipliers({"s": 1.5, "g": 1.13}) == ({"s": 150, "g": 113}, 2)
    assert scaled_multipliers({"g": 100, "z": 0}) == ({"g": 100, "z": 0}, 0)
    assert scaled_multipliers({"g": 1 / 3}) is None
