"""Per-tier `qualify` (entry) and `maintain` (keep) conditions."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, tiers_of
from tests.semtest import evaluated, prev
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

# airline-style: status by spend OR by number of flights (a declared metric)
AIRLINE = """
metrics:
  - {id: flights, table: flights, agg: count, time_column: ts}
tiers:
  - {id: blue}
  - {id: silver, qualify: "spend >= 2000 or flights >= 15"}
  - {id: gold, qualify: "spend >= 5000 or flights >= 30",
     maintain: "spend >= 4000 or flights >= 24"}
"""


def _flights(cid: str, n: int) -> list[tuple[str, str]]:
    return [(cid, f"2026-02-{(i % 28) + 1:02d} 0{i % 10}:00:00") for i in range(n)]


ORDERS = [("p", "2026-03-01 10:00:00", "5000.00"),   # gold by spend, exactly on the edge
          ("q", "2026-03-01 10:00:00", "100.00"),    # gold by flights (30)
          ("r", "2026-03-01 10:00:00", "4999.99"),   # silver by spend, 29 flights: silver
          ("s", "2026-03-01 10:00:00", "4500.00"),   # silver now; held gold before
          ("t", "2026-03-01 10:00:00", "10.00")]     # nothing
FLIGHTS = _flights("q", 30) + _flights("r", 29) + _flights("s", 2)


def _path(tmp_path, body: str = AIRLINE):
    return make_ruleset(tmp_path, body, ORDERS,
                        tables={"flights": (["customer_id", "ts"], FLIGHTS)})


def test_or_conditions_without_policies(tmp_path):
    assert tiers_of(_path(tmp_path)) == {"p": "gold", "q": "gold", "r": "silver",
                                         "s": "silver", "t": "blue"}


def test_maintenance_applies_to_previous_holders_only(tmp_path):
    rows, _ = evaluated(_path(tmp_path), [prev("s", "gold", 2), prev("r", "silver", 1)])
    # s held gold and still meets gold's maintenance (4500 >= 4000): keeps gold
    assert rows["s"]["tier"] == "gold" and rows["s"]["tier_event"] == "retained"
    assert rows["s"]["entry_rank"] == 1 and rows["s"]["maintain_rank"] == 2
    # r held silver only: 4999.99 would keep gold but not enter it
    assert rows["r"]["tier"] == "silver" and rows["r"]["maintain_rank"] is None


def test_maintenance_fails_below_it(tmp_path):
    rows, _ = evaluated(_path(tmp_path), [prev("t", "gold", 2)])
    assert rows["t"]["tier"] == "blue" and rows["t"]["tier_event"] == "downgraded"


def test_conditions_combine_with_policies(tmp_path):
    body = AIRLINE + """
policies:
  - type: frequency
    thresholds: {silver: 1}
combine: all
"""
    # all: every candidate must grant the tier; frequency grants silver at most
    assert tiers_of(_path(tmp_path, body)) == {"p": "silver", "q": "silver", "r": "silver",
                                               "s": "silver", "t": "blue"}


def test_condition_syntax_error_points_at_the_tier(tmp_path):
    body = AIRLINE.replace("spend >= 2000 or", "spend >= 2000 or or")
    with pytest.raises(RulesetError) as exc:
        load_ruleset(_path(tmp_path, body))
    [p] = exc.value.problems
    assert p.path == "tiers[1].qualify" and p.line is not None
    assert "syntax error" in p.message


def test_unknown_name_in_condition_is_reported_at_evaluation(tmp_path):
    from tiers.engine.evaluate import evaluate

    body = AIRLINE.replace("flights >= 15", "flihgts >= 15")
    loaded = load_ruleset(_path(tmp_path, body))
    with pytest.raises(RulesetError) as exc:
        evaluate(loaded)
    [p] = exc.value.problems
    assert p.path == "tiers[1].qualify"
    assert "flihgts" in p.message and "flights" in (p.hint or "")


def test_nothing_assigns_tiers(tmp_path):
    with pytest.raises(RulesetError) as exc:
        load_ruleset(make_ruleset(tmp_path, "tiers: [{id: a}, {id: b}]\n", ORDERS))
    assert "nothing assigns tiers" in exc.value.render()


def test_reserved_metric_name(tmp_path):
    body = AIRLINE.replace("id: flights,", "id: segments,").replace("flights >=", "segments >=")
    with pytest.raises(RulesetError) as exc:
        load_ruleset(_path(tmp_path, body))
    assert any(p.path == "metrics[0].id" and "segments" in p.message
               for p in exc.value.problems)
