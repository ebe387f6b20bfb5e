"""`rfm`: quintile and fixed-edge scores, tie-breaks, unscored customers, named segments."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, metric_rows, segment_rows
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

ORDERS = [
    ("a", "2026-06-30 12:00:00", "100.00"),                                          # R0 F1
    ("b", "2026-05-01 12:00:00", "100.00"), ("b", "2026-06-01 00:00:00", "100.00"),  # R30 F2
    ("c", "2026-03-01 12:00:00", "25.00"), ("c", "2026-04-02 00:00:00", "25.00"),    # R90 F2
    *[("d", f"2026-01-0{i} 00:00:00", "200.00") for i in range(2, 7)],              # R176 F5
    ("e", "2025-07-02 00:00:00", "10.00"),                                           # R364 F1
]
CUSTOMERS = [(c, "2020-01-01") for c in "abcdef"]  # f never ordered

HEAD = "tiers: [{id: base}]\npolicies:\n"


def scores(rows):
    return {c: (r["rfm_r"], r["rfm_f"], r["rfm_m"]) for c, r in rows.items()}


def test_quintiles_with_tie_break(tmp_path):
    path = make_ruleset(tmp_path, HEAD + "  - type: rfm\n", ORDERS, CUSTOMERS)
    # F ties (a, e with 1 order; b, c with 2) are split by customer_id
    assert scores(metric_rows(path)) == {
        "a": (5, 1, 3), "b": (4, 3, 4), "c": (3, 4, 2), "d": (2, 5, 5), "e": (1, 2, 1),
        "f": (None, None, None)}


def test_default_segments_first_match_wins(tmp_path):
    path = make_ruleset(tmp_path, HEAD + "  - type: rfm\n", ORDERS, CUSTOMERS)
    assert segment_rows(path) == {
        "a": {"New Customers"}, "b": {"Potential Loyalist"}, "c": {"Loyal"},
        "d": {"At Risk"}, "e": {"Lost"}, "f": set()}


def test_fixed_edges_and_own_segments(tmp_path):
    path = make_ruleset(tmp_path, HEAD + """\
  - type: rfm
    method: edges
    edges:
      recency: [30, 90, 180, 365]
      frequency: [2, 3, 5, 8]
      monetary: [100, 300, 800, 2000]
    others: null
    segments:
      Big: {m: 4-5}
      Recent: {r: [4, 5]}
""", ORDERS, CUSTOMERS)
    assert scores(metric_rows(path)) == {
        "a": (5, 1, 2), "b": (4, 2, 2), "c": (3, 2, 1), "d": (3, 4, 4), "e": (2, 1, 1),
        "f": (None, None, None)}
    assert segment_rows(path) == {"a": {"Recent"}, "b": {"Recent"}, "c": set(),
                                  "d": {"Big"}, "e": set(), "f": set()}


@pytest.mark.parametrize(("body", "message"), [
    ("  - {type: rfm, method: edges}\n", "needs four cut points"),
    ("  - {type: rfm, method: edges, edges: {recency: [1, 2, 3, 4], frequency: [1, 2, 3, 4],"
     " monetary: [5, 4, 3, 2]}}\n", "monetary edges must increase"),
    ("  - {type: rfm, segments: {X: {r: [5, 4]}}}\n", "scores run from 1 to 5, low first"),
    ("  - {type: rfm, segments: {X: {r: 6}}}\n", "scores run from 1 to 5"),
    ("  - {type: rfm, segments: {X: {q: 1}}}\n", "unknown field `q`"),
])
def test_bad_config(tmp_path, body, message):
    path = make_ruleset(tmp_path, HEAD + body, ORDERS, CUSTOMERS)
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    assert message in info.value.render()
