"""`bands`: satisfaction ranges to tiers; edges, missing scores, overlaps and gaps."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, tiers_of
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

ORDERS = [(c, "2026-05-01 10:00:00", "10.00") for c in "abcdefg"]
SURVEYS = (["customer_id", "ts", "score"], [
    ("a", "2026-05-02 00:00:00", 79.99),
    ("b", "2026-05-02 00:00:00", 80),      # exactly the lower edge of normal
    ("c", "2026-05-02 00:00:00", 89.99),
    ("d", "2026-05-02 00:00:00", 90),      # exactly the edge between normal and senior
    ("e", "2026-05-02 00:00:00", 95),
    ("e", "2026-05-03 00:00:00", 100),     # average 97.5
    ("f", "2025-01-01 00:00:00", 99),      # outside the window: no score
    # g answered no survey
])
HEAD = """
metrics:
  - {id: satisfaction, table: surveys, agg: avg, column: score}
tiers: [{id: basic}, {id: normal}, {id: senior}, {id: vip}]
"""


def run(tmp_path, policies: str) -> dict[str, str]:
    path = make_ruleset(tmp_path, HEAD + policies, ORDERS, tables={"surveys": SURVEYS})
    return tiers_of(path)


def test_half_open_bands(tmp_path):
    got = run(tmp_path, """
policies:
  - type: bands
    metric: satisfaction
    bands:
      - {tier: normal, min: 80, below: 90}
      - {tier: senior, min: 90, below: 95}
      - {tier: vip, min: 95}
""")
    assert got == {"a": "basic", "b": "normal", "c": "normal", "d": "senior", "e": "vip",
                   "f": "basic", "g": "basic"}


def test_whole_number_bands_with_step(tmp_path):
    # 89.99 falls between [80, 89] and [90, 94]: accepted with allow_gaps, grants nothing
    got = run(tmp_path, """
policies:
  - type: bands
    metric: satisfaction
    allow_gaps: true
    bands:
      - {tier: normal, min: 80, max: 89}
      - {tier: senior, min: 90, max: 94}
      - {tier: vip, min: 95}
""")
    assert got["b"] == "normal" and got["c"] == "basic" and got["d"] == "senior"


def test_exclusive_lower_bound(tmp_path):
    got = run(tmp_path, """
policies:
  - type: bands
    metric: satisfaction
    bands:
      - {tier: senior, above: 80, max: 95}
      - {tier: vip, above: 95}
""")
    assert got["b"] == "basic"  # 80 is not above 80
    assert got["e"] == "vip" and got["d"] == "senior"


def problems(tmp_path, policies: str):
    path = make_ruleset(tmp_path, HEAD + policies, ORDERS, tables={"surveys": SURVEYS})
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    return info.value.problems


def test_overlap_is_an_error(tmp_path):
    found = problems(tmp_path, """
policies:
  - type: bands
    metric: satisfaction
    bands:
      - {tier: normal, min: 80, max: 90}
      - {tier: senior, min: 90}
""")
    assert len(found) == 1
    assert "bands overlap: [80, 90] (normal) and [90, inf) (senior)" in found[0].message
    assert found[0].path == "policies[0].bands[1]"


def test_gap_is_an_error_unless_step_or_allowed(tmp_path):
    body = """
policies:
  - type: bands
    metric: satisfaction
    bands:
      - {tier: normal, min: 80, max: 89}
      - {tier: senior, min: 90}
"""
    found = problems(tmp_path, body)
    assert "gap between bands [80, 89] (normal) and [90, inf) (senior)" in found[0].message
    assert "(89, 90)" in found[0].message
    path = make_ruleset(tmp_path, HEAD + body.replace("bands:\n", "step: 1\n    bands:\n", 1),
                        ORDERS, tables={"surveys": SURVEYS})
    assert load_ruleset(path).policies[0].config.step == 1


def test_bad_bands(tmp_path):
    found = problems(tmp_path, """
policies:
  - type: bands
    metric: satisfction
    bands:
      - {tier: gold, min: 80, above: 70}
      - {tier: vip, min: 99, max: 90}
""")
    text = "\n".join(p.render() for p in found)
    assert "give `min` (inclusive) or `above` (exclusive), not both" in text
    assert "the range is empty" in text


def test_unknown_metric_and_tier(tmp_path):
    found = problems(tmp_path, """
policies:
  - type: bands
    metric: satisfction
    bands:
      - {tier: gold, min: 80}
""")
    text = "\n".join(p.render() for p in found)
    assert "policies[0].metric: unknown metric 'satisfction'" in text
    assert "did you mean 'satisfaction'" in text
    assert "policies[0].bands[0].tier: tier 'gold' is referenced but not defined" in text
