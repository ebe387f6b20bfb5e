"""Hit policies across policies, on hand-computed customers: ties, edges and NULL grants."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, tiers_of

TIERS = """
tiers:
  - {id: basic}
  - {id: silver}
  - {id: gold}
"""
SPEND = """
  - type: spend
    thresholds: {silver: 1000, gold: 5000}
"""
FREQUENCY = """
  - type: frequency
    thresholds: {silver: 5, gold: 10}
"""


def _orders(cid: str, n: int, amount: str) -> list[tuple[str, str, str]]:
    return [(cid, f"2026-03-{i + 1:02d} 10:00:00", amount) for i in range(n)]


ORDERS = (
    _orders("a", 1, "6000.00")      # spend gold, frequency nothing
    + _orders("b", 5, "200.00")     # spend exactly 1000 -> silver, 5 orders -> silver (tie)
    + _orders("c", 12, "100.00")    # spend silver, frequency gold
    + _orders("d", 10, "5.00")      # spend nothing, frequency gold
    + _orders("e", 2, "10.00")      # nothing at all
    + _orders("f", 1, "999.99")     # a cent under silver
)
# spend rank, frequency rank: a (2, -), b (1, 1), c (1, 2), d (-, 2), e (-, -), f (-, -)
EXPECTED = {
    "highest": {"a": "gold", "b": "silver", "c": "gold", "d": "gold", "e": "basic",
                "f": "basic"},
    # the lowest among policies that grant something
    "lowest": {"a": "gold", "b": "silver", "c": "silver", "d": "gold", "e": "basic",
               "f": "basic"},
    # the highest tier every policy grants at least; granting nothing fails
    "all": {"a": "basic", "b": "silver", "c": "silver", "d": "basic", "e": "basic",
            "f": "basic"},
    # the first policy (in ruleset order) that grants anything decides
    "first": {"a": "gold", "b": "silver", "c": "silver", "d": "gold", "e": "basic",
              "f": "basic"},
}


@pytest.mark.parametrize("hit_policy", sorted(EXPECTED))
def test_hit_policy(tmp_path, hit_policy):
    path = make_ruleset(tmp_path, TIERS + "policies:" + SPEND + FREQUENCY
                        + f"combine: {hit_policy}\n", ORDERS)
    assert tiers_of(path) == EXPECTED[hit_policy]


def test_first_follows_ruleset_order(tmp_path):
    path = make_ruleset(tmp_path, TIERS + "policies:" + FREQUENCY + SPEND + "combine: first\n",
                        ORDERS)
    # frequency first now: c takes frequency's gold, a falls through to spend's gold
    assert tiers_of(path) == {"a": "gold", "b": "silver", "c": "gold", "d": "gold",
                              "e": "basic", "f": "basic"}


def test_all_with_a_policy_that_skips_a_tier(tmp_path):
    # frequency only knows gold: a silver by spend with 10 orders is gold on frequency, and
    # "all" still gives silver (every policy grants at least silver)
    path = make_ruleset(tmp_path, TIERS + """policies:
  - type: spend
    thresholds: {silver: 1000, gold: 5000}
  - type: frequency
    thresholds: {gold: 10}
combine: all
""", _orders("x", 10, "150.00") + _orders("y", 9, "150.00"))
    assert tiers_of(path) == {"x": "silver", "y": "basic"}


def test_rank_columns_per_policy(tmp_path):
    from tests.semtest import evaluated

    path = make_ruleset(tmp_path, TIERS + "policies:" + SPEND + FREQUENCY, ORDERS)
    rows, _ = evaluated(path)
    assert (rows["a"]["rank_spend"], rows["a"]["rank_frequency"]) == (2, None)
    assert (rows["c"]["rank_spend"], rows["c"]["rank_frequency"]) == (1, 2)
    assert rows["c"]["entry_rank"] == rows["c"]["tier_rank"] == 2
