"""The built-in threshold policies, written as the docs show them: snippet, data, tiers."""

from __future__ import annotations

from tiers.testing import assert_tiers

TIERS = [{"id": "normal"}, {"id": "silver"}, {"id": "gold"}]
ORDERS = [
    # ann: 3 orders, 900 in the last 365 days; one older big order outside the window
    {"customer_id": "ann", "order_ts": "2025-03-01", "amount": 5000},
    {"customer_id": "ann", "order_ts": "2025-08-01", "amount": 300},
    {"customer_id": "ann", "order_ts": "2025-12-01", "amount": 300},
    {"customer_id": "ann", "order_ts": "2026-05-01", "amount": 300},
    # bob: 1 big order
    {"customer_id": "bob", "order_ts": "2026-04-01", "amount": 2500},
    # cy: a purchase fully refunded: spend 0, one order
    {"customer_id": "cy", "order_ts": "2026-02-01", "amount": 700},
    {"customer_id": "cy", "order_ts": "2026-02-03", "amount": -700},
]
AS_OF = "2026-07-01"


def test_spend_over_the_ruleset_window(tiers_runner):
    ruleset = {"tiers": TIERS, "window": {"kind": "rolling", "days": 365},
               "policies": [{"type": "spend", "thresholds": {"silver": 500, "gold": 2000}}]}
    assert_tiers(tiers_runner.run(ruleset, orders=ORDERS, as_of=AS_OF),
                 {"ann": "silver", "bob": "gold", "cy": "normal"}, exact=True)


def test_spend_with_its_own_window(tiers_runner):
    ruleset = {"tiers": TIERS, "policies": [{
        "type": "spend", "thresholds": {"silver": 500, "gold": 2000},
        "window": {"kind": "all_time"}}]}
    assert_tiers(tiers_runner.run(ruleset, orders=ORDERS, as_of=AS_OF),
                 {"ann": "gold", "bob": "gold", "cy": "normal"})


def test_frequency_counts_orders_not_refunds(tiers_runner):
    ruleset = {"tiers": TIERS, "window": {"kind": "rolling", "days": 365},
               "policies": [{"type": "frequency", "thresholds": {"silver": 1, "gold": 3}}]}
    assert_tiers(tiers_runner.run(ruleset, orders=ORDERS, as_of=AS_OF),
                 {"ann": "gold", "bob": "silver", "cy": "silver"})


def test_all_must_qualify_takes_the_lowest(tiers_runner):
    ruleset = {"tiers": TIERS, "window": {"kind": "rolling", "days": 365}, "combine": "all",
               "policies": [{"type": "spend", "thresholds": {"silver": 500, "gold": 2000}},
                            {"type": "frequency", "thresholds": {"silver": 1, "gold": 3}}]}
    assert_tiers(tiers_runner.run(ruleset, orders=ORDERS, as_of=AS_OF),
                 {"ann": "silver", "bob": "silver", "cy": "normal"})


def test_threshold_on_a_declared_metric(tiers_runner):
    ruleset = {
        "tiers": TIERS,
        "metrics": [{"id": "reviews", "table": "reviews", "agg": "count"}],
        "policies": [{"type": "threshold", "metric": "reviews",
                      "thresholds": {"silver": 1, "gold": 2}}],
    }
    reviews = [{"customer_id": "ann", "ts": "2026-06-01"},
               {"customer_id": "ann", "ts": "2026-06-02"},
               {"customer_id": "bob", "ts": "2026-06-03"},
               {"customer_id": "bob", "ts": "2026-07-02"}]  # at/after as-of: not counted
    assert_tiers(tiers_runner.run(ruleset, orders=ORDERS, reviews=reviews, as_of=AS_OF),
                 {"ann": "gold", "bob": "silver", "cy": "normal"})
