"""The complaint-rate policy: a ceiling per tier on complaints per order."""

from __future__ import annotations

from tiers_crm import complaint_rate

from tiers.testing import assert_tiers, installed_component

RULESET = {
    "metrics": [{"id": "complaints", "table": "cases", "agg": "count"}],
    "tiers": [{"id": "normal"}, {"id": "senior"}, {"id": "vip"}],
    "policies": [{"type": "spend", "thresholds": {"senior": 100, "vip": 1000}},
                 {"type": "complaint_rate", "ceilings": {"senior": 1.0, "vip": 0.5}}],
    "combine": "all",
}


def orders(customer, amounts):
    return [{"customer_id": customer, "order_ts": f"2026-01-{i + 1:02d}", "amount": a}
            for i, a in enumerate(amounts)]


def cases(customer, n):
    return [{"customer_id": customer, "ts": f"2026-02-{i + 1:02d}"} for i in range(n)]


ORDERS = (orders("quiet_vip", [600, 600]) + orders("edge_vip", [600, 600])
          + orders("loud_vip", [600, 600]) + orders("very_loud", [2000])
          + orders("no_orders_yet", []) + orders("small", [50]))
CASES = (cases("edge_vip", 1) + cases("loud_vip", 2) + cases("very_loud", 3)
         + cases("no_orders_yet", 1))
CUSTOMERS = [{"customer_id": "no_orders_yet"}]


def test_ceilings_hold_customers_below_a_tier(tiers_runner):
    tiers_runner.register(complaint_rate)
    result = tiers_runner.run(RULESET, orders=ORDERS, cases=CASES, customers=CUSTOMERS,
                              as_of="2026-06-01")
    assert_tiers(result, {
        "quiet_vip": "vip",       # 0 / 2
        "edge_vip": "vip",        # 1 / 2 = 0.5: the ceiling itself is allowed
        "loud_vip": "senior",     # 2 / 2 = 1.0: above vip's 0.5, within senior's 1.0
        "very_loud": "normal",    # 3 / 1
        "no_orders_yet": "normal",
        "small": "normal",        # spend decides: the policy only ever holds back
    }, exact=True)


def test_explain_names_the_broken_ceiling(tiers_runner):
    tiers_runner.register(complaint_rate)
    loaded = tiers_runner.load(RULESET, orders=ORDERS, cases=CASES)
    policy = loaded.policies[1]
    assert policy.explain({"complaints": 2, "orders": 2}) == [
        "complaint rate 1 (2 complaints / 2 orders)",
        "<= 1 allowed for senior",
        "> 0.5 allowed for vip: held below vip",
    ]


def test_undefined_tier_and_negative_ceiling(tiers_runner):
    tiers_runner.register(complaint_rate)
    bad = {**RULESET, "policies": [
        {"type": "complaint_rate", "ceilings": {"vipp": 0.5, "senior": -1}}]}
    problems = tiers_runner.problems(bad, orders=ORDERS, cases=CASES)
    assert len(problems) == 2
    assert any("policies[0].ceilings.vipp: tier 'vipp' is not defined" in p
               and "did you mean 'vip'?" in p for p in problems)
    assert any("policies[0].ceilings.senior: a complaint rate cannot be negative" in p
               for p in problems)


def test_undeclared_complaints_metric(tiers_runner):
    tiers_runner.register(complaint_rate)
    bad = {**RULESET, "metrics": []}
    problems = tiers_runner.problems(bad, orders=ORDERS, cases=CASES)
    assert any("unknown metric 'complaints'" in p for p in problems)


def test_installed_through_the_entry_point():
    assert installed_component("policy", "complaint_rate") is \
        complaint_rate.ComplaintRatePolicy
