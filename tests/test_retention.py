"""Retention against the previous run's state: holds, soft landing, grace, upgrades."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.policytest import make_ruleset
from tests.semtest import evaluated, prev
from tiers.engine.retention import earned_hold_until, hold_end
from tiers.ruleset.models import HoldPeriod, Retention

AS_OF = dt.datetime(2026, 7, 1)
LADDER = """
tiers:
  - {id: basic}
  - {id: silver}
  - {id: gold}
  - {id: platinum}
policies:
  - type: spend
    thresholds: {silver: 1000, gold: 5000, platinum: 10000}
"""
ORDERS = [
    ("up", "2026-03-01 10:00:00", "6000.00"),     # gold now, silver before
    ("same", "2026-03-01 10:00:00", "5500.00"),   # gold now, gold before
    ("fall", "2026-03-01 10:00:00", "10.00"),     # basic now, platinum before
    ("held", "2026-03-01 10:00:00", "10.00"),     # basic now, gold held into the future
    ("edge", "2026-03-01 10:00:00", "10.00"),     # basic now, gold held until exactly as-of
    ("new", "2026-03-01 10:00:00", "1500.00"),    # not in the previous state
]
SINCE = dt.datetime(2025, 3, 1)
PREVIOUS = [
    prev("up", "silver", 1, SINCE),
    prev("same", "gold", 2, SINCE, held_until=dt.datetime(2026, 9, 1)),
    prev("fall", "platinum", 3, SINCE),
    prev("held", "gold", 2, SINCE, held_until=dt.datetime(2026, 12, 1)),
    prev("edge", "gold", 2, SINCE, held_until=AS_OF),
    prev("gone", "gold", 2, SINCE),  # absent from today's data
]


def _run(tmp_path, retention: str):
    path = make_ruleset(tmp_path, LADDER + retention, ORDERS)
    return evaluated(path, PREVIOUS)


def test_soft_landing_and_holds(tmp_path):
    rows, _ = _run(tmp_path, "retention: {hold: {months: 12}, max_drop: 1}\n")
    got = {c: (r["tier"], r["tier_event"]) for c, r in rows.items()}
    assert got == {
        "up": ("gold", "upgraded"),
        "same": ("gold", "retained"),
        "fall": ("gold", "downgraded"),        # platinum -> gold: one level at most
        "held": ("gold", "retained"),          # the hold protects it
        "edge": ("silver", "downgraded"),      # a hold ending at as-of no longer protects
        "new": ("silver", "entered"),
        "gone": ("silver", "downgraded"),      # kept, evaluated with no activity
    }
    year_on = dt.datetime(2027, 7, 1)
    assert rows["up"]["held_until"] == year_on and rows["up"]["tier_since"] == AS_OF
    # earning the same tier again extends the hold and keeps the date it was entered
    assert rows["same"]["held_until"] == year_on and rows["same"]["tier_since"] == SINCE
    assert rows["held"]["held_until"] == dt.datetime(2026, 12, 1)
    assert rows["held"]["tier_since"] == SINCE
    # a soft-landed tier was not earned: no hold unless landing_hold says so
    assert rows["fall"]["held_until"] is None and rows["fall"]["tier_since"] == AS_OF
    assert rows["new"]["prev_rank"] is None and rows["new"]["prev_tier"] is None
    assert rows["gone"]["spend"] == 0 and rows["gone"]["prev_tier"] == "gold"


def test_without_max_drop_a_tier_falls_to_what_is_earned(tmp_path):
    rows, _ = _run(tmp_path, "retention: {hold: none}\n")
    assert rows["fall"]["tier"] == "basic" and rows["held"]["tier"] == "gold"
    assert rows["fall"]["held_until"] is None


def test_landing_hold_and_grace(tmp_path):
    rows, _ = _run(tmp_path, "retention: {hold: rest_of_year_and_next, max_drop: 1, "
                             "grace_days: 30, landing_hold: rest_of_year}\n")
    assert rows["up"]["held_until"] == dt.datetime(2028, 1, 31)   # 2028-01-01 + 30 days
    assert rows["fall"]["held_until"] == dt.datetime(2027, 1, 1)  # landing hold
    assert rows["new"]["held_until"] == dt.datetime(2028, 1, 31)


def test_first_run_everyone_entered(tmp_path):
    path = make_ruleset(tmp_path, LADDER + "retention: {max_drop: 1}\n", ORDERS)
    rows, events = evaluated(path)
    assert {r["tier_event"] for r in rows.values()} == {"entered"}
    assert ("fall", "entered", "basic") in events
    assert "gone" not in rows


@pytest.mark.parametrize(("hold", "as_of", "end"), [
    ("none", AS_OF, None),
    ("rest_of_year", AS_OF, dt.datetime(2027, 1, 1)),
    ("rest_of_year_and_next", AS_OF, dt.datetime(2028, 1, 1)),
    # as-of 1 January judges the year just ended
    ("rest_of_year_and_next", dt.datetime(2027, 1, 1), dt.datetime(2028, 1, 1)),
    ("rest_of_year", dt.datetime(2027, 1, 1), dt.datetime(2027, 1, 1)),
    (HoldPeriod(days=90), AS_OF, dt.datetime(2026, 9, 29)),
    (HoldPeriod(months=1), dt.datetime(2026, 1, 31), dt.datetime(2026, 2, 28)),
    (HoldPeriod(months=12), dt.datetime(2028, 2, 29), dt.datetime(2029, 2, 28)),
])
def test_hold_end(hold, as_of, end):
    assert hold_end(hold, as_of) == end


def test_grace_without_hold_counts_from_the_evaluation():
    assert earned_hold_until(Retention(grace_days=14), AS_OF) == dt.datetime(2026, 7, 15)


def test_bad_retention_is_located(tmp_path):
    from tiers.core.errors import RulesetError
    from tiers.ruleset.loader import load_ruleset

    path = make_ruleset(tmp_path, LADDER + "retention: {hold: {weeks: 2}, max_drop: 0}\n",
                        ORDERS)
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    paths = {p.path for p in exc.value.problems}
    assert "retention.max_drop" in paths
    assert any(p.startswith("retention.hold") for p in paths)
