"""Manual pins from the overrides file."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.policytest import make_ruleset, write_csv
from tests.semtest import evaluated, prev
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

BODY = """
tiers: [{id: basic}, {id: silver}, {id: gold}]
policies:
  - type: spend
    thresholds: {silver: 1000, gold: 5000}
retention: {max_drop: 1}
overrides: pins.csv
"""
ORDERS = [("a", "2026-03-01 10:00:00", "10.00"), ("b", "2026-03-01 10:00:00", "6000.00"),
          ("c", "2026-03-01 10:00:00", "10.00"), ("d", "2026-03-01 10:00:00", "10.00")]
HEADER = ["customer_id", "tier", "until", "reason"]


def _path(tmp_path, pins):
    path = make_ruleset(tmp_path, BODY, ORDERS)
    write_csv(tmp_path / "pins.csv", HEADER, pins)
    return path


def test_pins_override_earned_and_retained_tiers(tmp_path):
    path = _path(tmp_path, [
        ("a", "gold", "2026-07-01", "goodwill"),   # through the as-of day itself
        ("b", "basic", "", "fraud review"),        # no end: until the row is removed
        ("c", "gold", "2026-06-30", "expired"),    # ended the day before
    ])
    rows, events = evaluated(path, [prev("d", "gold", 2), prev("c", "gold", 2)])
    got = {c: (r["tier"], r["pinned"]) for c, r in rows.items()}
    assert got == {"a": ("gold", True), "b": ("basic", True), "c": ("silver", False),
                   "d": ("silver", False)}
    assert rows["a"]["held_until"] == dt.datetime(2026, 7, 2)
    assert rows["a"]["pin_reason"] == "goodwill" and rows["a"]["qualified_rank"] == 0
    assert rows["b"]["assigned_rank"] == 2 and rows["b"]["held_until"] is None
    # a pin ending tomorrow is an at-risk tier (nothing else keeps it)
    assert ("a", "at_risk", "gold") in events and ("b", "entered", "basic") in events


@pytest.mark.parametrize(("row", "message"), [
    (("a", "platinum", "", ""), "unknown tier 'platinum'"),
    (("a", "gold", "31/12/2026", ""), "is not a date"),
    (("", "gold", "", ""), "empty customer_id"),
])
def test_bad_rows_are_reported_with_their_line(tmp_path, row, message):
    path = _path(tmp_path, [("z", "gold", "", "fine"), row])
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    [p] = exc.value.problems
    assert message in p.message and p.line == 3 and p.file == str(tmp_path / "pins.csv")


def test_duplicate_pin(tmp_path):
    path = _path(tmp_path, [("a", "gold", "", ""), ("a", "silver", "", "")])
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    assert "pinned twice (also on line 2)" in exc.value.render()


def test_missing_file_points_at_the_ruleset(tmp_path):
    path = make_ruleset(tmp_path, BODY, ORDERS)
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    [p] = exc.value.problems
    assert p.path == "overrides" and p.file == str(path) and "not found" in p.message


def test_bad_header(tmp_path):
    path = make_ruleset(tmp_path, BODY, ORDERS)
    write_csv(tmp_path / "pins.csv", ["id", "level"], [("a", "gold")])
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    assert "lacks customer_id, tier" in exc.value.render()
