"""The engine's metric definitions on hand-computed data."""

from __future__ import annotations

import datetime as dt

import pytest

from tiers.pipeline import run
from tiers.ruleset.loader import load_ruleset

RULESET = """
name: metrics-test
sources:
  orders: {type: csv, path: orders.csv}
  customers: {type: csv, path: customers.csv}
window: {kind: rolling, days: 365}
tiers: [{id: base}, {id: silver}, {id: gold}]
policies:
  - type: spend
    thresholds: {silver: 100, gold: 500}
"""
AS_OF = dt.datetime(2026, 1, 1)

ORDERS = [
    ("order_id", "customer_id", "order_ts", "amount"),
    # a: two orders in the window and a refund of part of one
    ("1", "a", "2025-06-01 10:00:00", "300.00"),
    ("2", "a", "2025-12-31 23:59:59", "250.00"),
    ("3", "a", "2025-07-01 00:00:00", "-60.00"),
    # b: one order exactly on the window start (counted) and one exactly at as-of (not counted)
    ("4", "b", "2025-01-01 00:00:00", "120.00"),
    ("5", "b", "2026-01-01 00:00:00", "999.00"),
    # c: only an order before the window: zero spend, but known recency and tenure
    ("6", "c", "2024-12-31 23:59:59", "800.00"),
    # d: a sub-second timestamp just after a day boundary: 0 whole days elapsed
    ("7", "d", "2025-12-31 00:00:00.5", "10.00"),
]
CUSTOMERS = [
    ("customer_id", "name", "signup_date"),
    ("a", "Ann", "2025-01-10"),
    ("b", "Bo", "2024-06-01"),
    ("c", "Cy", ""),
    ("d", "Di", ""),
    ("e", "Ed", "2025-11-01"),   # signed up, never ordered
    ("f", "Fay", "2026-02-01"),  # signs up after as-of: not yet a customer
]


@pytest.fixture
def result(make_ruleset, registry):
    pm, reg = registry
    path = make_ruleset(RULESET, orders=ORDERS, customers=CUSTOMERS)
    loaded = load_ruleset(path, registry=reg, pm=pm)
    res = run(loaded, as_of=AS_OF.date())
    return {r["customer_id"]: r for r in res.table.to_pylist()}


def test_spend_is_net_of_refunds_within_the_half_open_window(result):
    assert float(result["a"]["spend"]) == 490.0
    assert float(result["b"]["spend"]) == 120.0  # the as-of order is outside [start, as_of)
    assert float(result["c"]["spend"]) == 0.0
    assert float(result["e"]["spend"]) == 0.0


def test_orders_count_purchases_not_refunds(result):
    assert result["a"]["orders"] == 2
    assert result["b"]["orders"] == 1
    assert result["c"]["orders"] == 0
    assert result["a"]["lifetime_orders"] == 2


def test_average_order_value(result):
    assert float(result["a"]["avg_order_value"]) == pytest.approx(245.0)
    assert result["c"]["avg_order_value"] is None


def test_recency_is_whole_days_elapsed(result):
    assert result["a"]["recency_days"] == 0      # 1 second before as-of
    assert result["b"]["recency_days"] == 365
    assert result["c"]["recency_days"] == 365     # 365 days and one second
    assert result["d"]["recency_days"] == 0      # 23h59m59.5s elapsed
    assert result["e"]["recency_days"] is None


def test_tenure_counts_from_signup_or_first_order(result):
    assert result["a"]["tenure_days"] == (AS_OF - dt.datetime(2025, 1, 10)).days
    assert result["b"]["tenure_days"] == (AS_OF - dt.datetime(2024, 6, 1)).days
    assert result["e"]["tenure_days"] == 61


def test_customers_without_orders_are_kept_and_future_signups_are_not(result):
    assert set(result) == {"a", "b", "c", "d", "e"}
    assert result["e"]["tier"] == "base"


def test_tiers_follow_thresholds_inclusively(result):
    assert result["a"]["tier"] == "silver"   # 490 < 500
    assert result["b"]["tier"] == "silver"   # 120 >= 100
    assert result["c"]["tier"] == "base"
    assert result["d"]["tier"] == "base"


def test_threshold_equal_to_spend_qualifies(make_ruleset, registry):
    pm, reg = registry
    path = make_ruleset(RULESET, orders=[ORDERS[0], ("1", "x", "2025-05-05", "500.00")],
                        customers=[("customer_id",), ("x",)])
    res = run(load_ruleset(path, registry=reg, pm=pm), as_of="2026-01-01")
    assert res.table.to_pylist()[0]["tier"] == "gold"


def test_as_of_moves_the_window(make_ruleset, registry):
    pm, reg = registry
    path = make_ruleset(RULESET, orders=ORDERS, customers=CUSTOMERS)
    loaded = load_ruleset(path, registry=reg, pm=pm)
    later = {r["customer_id"]: r for r in run(loaded, as_of="2026-06-02").table.to_pylist()}
    # a's 2025-06-01 order has left the window; the refund and the December order remain
    assert float(later["a"]["spend"]) == 190.0
    assert float(later["b"]["spend"]) == 999.0
