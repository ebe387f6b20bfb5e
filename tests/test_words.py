"""Counted words in messages: "1 policy", "2 policies", never "1 policies"."""

from __future__ import annotations

from tiers.core.errors import Problem, RulesetError
from tiers.core.words import counted, plural


def test_counted_words():
    assert counted(1, "policy", "policies") == "1 policy"
    assert counted(0, "policy", "policies") == "0 policies"
    assert counted(2, "code") == "2 codes"
    assert counted(1_234, "customer") == "1,234 customers"
    assert plural(1, "intent") == "intent" and plural(3, "intent") == "intents"


def test_validate_counts_in_the_singular(cli, make_ruleset):
    path = make_ruleset("""\
        name: one
        sources:
          orders: {type: csv, path: orders.csv}
        tiers: [{id: normal}, {id: vip}]
        policies:
          - type: spend
            thresholds: {vip: 100}
        """, orders=[["order_id", "customer_id", "order_ts", "amount"],
                     ["O1", "C1", "2026-01-01", "10"]])
    res = cli("validate", path)
    assert res.exit_code == 0, res.output
    assert res.output.endswith("OK (2 tiers, 1 policy, 1 source, 0 actions)\n")


def test_one_problem_is_one_problem():
    assert RulesetError([Problem("x")]).render().startswith("1 problem found:")
    assert RulesetError([Problem("x"), Problem("y")]).render().startswith("2 problems found:")
