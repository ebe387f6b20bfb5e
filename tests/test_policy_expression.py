"""The `expression` policy: tiers and segments granted by conditions in the ruleset."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, segment_rows, tiers_of
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

ORDERS = [
    # a: 2 orders, spend exactly 40 -> not "spend > 40"
    ("a", "2026-03-01 10:00:00", "20.00"), ("a", "2026-04-01 10:00:00", "20.00"),
    # b: 2 orders, spend 40.01
    ("b", "2026-03-01 10:00:00", "20.00"), ("b", "2026-04-01 10:00:00", "20.01"),
    # c: 1 big order
    ("c", "2026-05-01 10:00:00", "900.00"),
    # d: orders only outside the 365-day window -> empty window
    ("d", "2024-01-01 10:00:00", "5000.00"), ("d", "2024-02-01 10:00:00", "5000.00"),
]
CUSTOMERS = [("a", "2020-01-01"), ("b", "2020-01-01"), ("c", "2020-01-01"),
             ("d", "2020-01-01"), ("e", "2026-06-01")]  # e: no orders at all

TIERS = """
tiers:
  - {id: normal}
  - {id: senior}
  - {id: vip}
"""


def test_segment_from_condition(tmp_path):
    path = make_ruleset(tmp_path, TIERS + """
policies:
  - type: spend
    thresholds: {senior: 1000}
  - type: expression
    id: returning
    segment: returning_customer
    when: orders >= 2 and spend > 40
""", ORDERS, CUSTOMERS)
    segs = segment_rows(path)
    assert segs == {"a": set(), "b": {"returning_customer"}, "c": set(), "d": set(), "e": set()}


def test_tiers_from_conditions_highest_wins(tmp_path):
    path = make_ruleset(tmp_path, TIERS + """
policies:
  - type: expression
    tiers:
      vip: spend >= 900 or lifetime_spend >= 10000
      senior: orders >= 2
""", ORDERS, CUSTOMERS)
    assert tiers_of(path) == {"a": "senior", "b": "senior", "c": "vip", "d": "vip",
                              "e": "normal"}


def test_windowed_metrics_follow_the_policy_window(tmp_path):
    path = make_ruleset(tmp_path, TIERS + """
policies:
  - type: expression
    tier: vip
    when: spend >= 10000
    window: {kind: all_time}
""", ORDERS, CUSTOMERS)
    assert tiers_of(path)["d"] == "vip"
    assert tiers_of(path)["c"] == "normal"


def test_several_segments(tmp_path):
    path = make_ruleset(tmp_path, TIERS + """
policies:
  - type: spend
    thresholds: {senior: 1000}
  - type: expression
    segments:
      big_basket: max_order_value >= 900
      never_ordered: lifetime_orders == 0
""", ORDERS, CUSTOMERS)
    segs = segment_rows(path)
    assert segs["c"] == {"big_basket"}
    assert segs["e"] == {"never_ordered"}
    assert segs["d"] == set()  # its big orders are outside the window


def problems_of(tmp_path, body):
    path = make_ruleset(tmp_path, TIERS + body, ORDERS, CUSTOMERS)
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    return info.value.problems


def test_typo_in_metric_is_located(tmp_path):
    problems = problems_of(tmp_path, """
policies:
  - type: expression
    segment: returning
    when: orders >= 2 and spnd > 40
""")
    assert len(problems) == 1
    p = problems[0]
    assert p.path == "policies[0].when"
    assert p.line == 15
    assert "unknown metric 'spnd' at column 17" in p.message
    assert "did you mean 'spend'" in (p.hint or "")


def test_syntax_error_is_located(tmp_path):
    problems = problems_of(tmp_path, """
policies:
  - type: expression
    tiers:
      vip: "spend >= "
""")
    assert problems[0].path == "policies[0].tiers.vip"
    assert "syntax error" in problems[0].message


def test_unknown_tier(tmp_path):
    problems = problems_of(tmp_path, """
policies:
  - type: expression
    tier: vpi
    when: spend > 1
""")
    assert problems[0].path == "policies[0].tier"
    assert "did you mean 'vip'" in (problems[0].hint or "")


def test_forms_are_exclusive(tmp_path):
    problems = problems_of(tmp_path, """
policies:
  - type: expression
    tier: vip
    segment: big
    when: spend > 1
""")
    assert "exactly one of" in problems[0].message


def test_unknown_attribute_fails_at_run_with_location(tmp_path):
    path = make_ruleset(tmp_path, TIERS + """
policies:
  - type: expression
    segment: english
    when: language == 'en'
""", ORDERS, CUSTOMERS)
    with pytest.raises(RulesetError) as info:
        segment_rows(path)
    p = info.value.problems[0]
    assert p.path == "policies[0].when"
    assert "unknown metric 'language'" in p.message
