"""`spend` and `frequency` over every kind of window, hand-computed at as-of 2026-07-01."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, metric_rows, tiers_of

ORDERS = [
    ("x", "2025-12-31 23:59:59", "100.00"),  # last year, inside the rolling 365 days
    ("x", "2026-01-01 00:00:00", "200.00"),  # exactly the year start: counted, Q1
    ("x", "2026-03-31 23:59:59", "300.00"),  # end of Q1
    ("x", "2026-04-01 00:00:00", "400.00"),  # exactly the Q2 start
    ("x", "2026-06-01 00:00:00", "500.00"),  # exactly the start of the rolling 30 days
    ("x", "2026-07-01 00:00:00", "9999.00"),  # exactly as-of: never counted
    ("z", "2026-02-01 12:00:00", "50.00"),
]
CUSTOMERS = [("x", "2026-03-01"), ("y", "2026-01-01"), ("z", "")]  # y never ordered

BODY = """
tiers: [{id: base}, {id: silver}, {id: gold}]
policies:
  - {type: spend, id: r30, thresholds: {silver: 500, gold: 501}, window: {kind: rolling, days: 30}}
  - {type: spend, id: year, thresholds: {silver: 1400}, window: {kind: calendar_year}}
  - {type: spend, id: q, thresholds: {silver: 900}, window: {kind: quarter}}
  - {type: spend, id: q1, thresholds: {silver: 500}, window: {kind: quarter, offset: -1}}
  - {type: spend, id: signup, thresholds: {silver: 1200}, window: {kind: since_signup}}
  - {type: frequency, id: f, thresholds: {silver: 2, gold: 3}, window: {kind: since_signup}}
combine: {combine}
"""


@pytest.fixture
def rows(tmp_path):
    path = make_ruleset(tmp_path, BODY.replace("{combine}", "lowest"), ORDERS, CUSTOMERS)
    return metric_rows(path)


@pytest.mark.parametrize(("column", "expected"), [
    ("spend", {"x": 1500, "y": 0, "z": 50}),  # the ruleset's window: rolling 365 days
    ("spend_30d", {"x": 500, "y": 0, "z": 0}),
    ("spend_year", {"x": 1400, "y": 0, "z": 50}),
    ("spend_quarter", {"x": 900, "y": 0, "z": 0}),
    ("spend_quarter-1", {"x": 500, "y": 0, "z": 50}),
    # from each customer's signup; no signup date counts from the beginning
    ("spend_signup", {"x": 1200, "y": 0, "z": 50}),
    ("orders_signup", {"x": 3, "y": 0, "z": 1}),
])
def test_window_sums(rows, column, expected):
    assert {c: float(r[column]) for c, r in rows.items()} == expected


def test_thresholds_met_exactly_qualify(tmp_path):
    # x sits exactly on every silver threshold; only gold (501 in 30 days, 3 orders) fails
    path = make_ruleset(tmp_path, BODY.replace("{combine}", "lowest"), ORDERS, CUSTOMERS)
    assert tiers_of(path) == {"x": "silver", "y": "base", "z": "base"}
    path = make_ruleset(tmp_path, BODY.replace("{combine}", "highest"), ORDERS, CUSTOMERS)
    assert tiers_of(path) == {"x": "gold", "y": "base", "z": "base"}
