"""`score`: weighted normalised metrics, cut-offs, top percentiles and their ties."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, run_rows
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

ORDERS = [
    ("a", "2026-06-30 00:00:00", "0.00"),    # recency 1
    ("b", "2026-06-21 00:00:00", "100.00"),  # recency 10
    ("c", "2026-06-11 00:00:00", "200.00"),  # recency 20
    ("d", "2026-06-01 00:00:00", "300.00"),  # recency 30
    ("e", "2026-05-22 00:00:00", "400.00"),  # recency 40
]
CUSTOMERS = [(c, "2020-01-01") for c in "abcdef"]  # f never ordered
HEAD = "tiers: [{id: base}, {id: silver}, {id: gold}]\npolicies:\n"


def run(tmp_path, body, orders=ORDERS):
    return run_rows(make_ruleset(tmp_path, HEAD + body, orders, CUSTOMERS))


def test_cutoffs_on_the_edge(tmp_path):
    rows = run(tmp_path, """\
  - type: score
    components: [{metric: spend, weight: 1}]
    cutoffs: {silver: 0.5, gold: 1}
""")
    assert {c: r["score"] for c, r in rows.items()} == {
        "a": 0, "b": 0.25, "c": 0.5, "d": 0.75, "e": 1, "f": 0}
    assert {c: r["tier"] for c, r in rows.items()} == {
        "a": "base", "b": "base", "c": "silver", "d": "silver", "e": "gold", "f": "base"}


def test_weights_and_inverted_metric(tmp_path):
    rows = run(tmp_path, """\
  - type: score
    id: value
    components:
      - {metric: spend, weight: 3}
      - {metric: recency_days, weight: 1, invert: true}
    cutoffs: {silver: 0.5}
""")
    # spend min-max over 0..400; recency over 1..40, inverted; f has no recency: adds 0
    expected = {"a": 0.25, "b": 0.75 * 0.25 + 0.25 * 30 / 39, "c": 0.375 + 0.25 * 20 / 39,
                "d": 0.5625 + 0.25 * 10 / 39, "e": 0.75, "f": 0.0}
    assert {c: r["value"] for c, r in rows.items()} == pytest.approx(expected, abs=1e-6)
    assert [c for c, r in sorted(rows.items()) if r["tier"] == "silver"] == ["c", "d", "e"]


def test_top_percent_with_ties(tmp_path):
    orders = [o if o[0] != "d" else ("d", o[1], "200.00") for o in ORDERS]  # c and d tie
    rows = run(tmp_path, """\
  - type: score
    components: [{metric: spend, weight: 1}]
    top_percent: {silver: 50, gold: 30}
""", orders)
    # 6 customers: gold = first ceil(1.8) = 2 (e, then c before d by id); silver = 3
    assert {c: r["tier"] for c, r in rows.items()} == {
        "a": "base", "b": "base", "c": "gold", "d": "silver", "e": "gold", "f": "base"}


def test_rank_normalisation(tmp_path):
    rows = run(tmp_path, """\
  - type: score
    normalise: rank
    components: [{metric: recency_days, weight: 1, invert: true}]
    cutoffs: {silver: 0.5, gold: 1}
""")
    assert {c: r["score"] for c, r in rows.items()} == {
        "a": 1, "b": 0.75, "c": 0.5, "d": 0.25, "e": 0, "f": 0}


@pytest.mark.parametrize(("body", "message"), [
    ("  - {type: score, components: [{metric: spend, weight: 1}]}\n",
     "exactly one of `cutoffs` and `top_percent`"),
    ("  - {type: score, components: [{metric: spend, weight: 1}], cutoffs: {gold: 2}}\n",
     "between 0 and 1"),
    ("  - {type: score, components: [{metric: spend, weight: 0}], cutoffs: {gold: 1}}\n",
     "greater than 0"),
    ("  - {type: score, components: [{metric: spend, weight: 1}], "
     "top_percent: {silver: 10, gold: 30}}\n", "gold needs a smaller share than silver"),
    ("  - {type: score, components: [{metric: spnd, weight: 1}], cutoffs: {gold: 1}}\n",
     "unknown metric 'spnd'"),
])
def test_bad_config(tmp_path, body, message):
    path = make_ruleset(tmp_path, HEAD + body, ORDERS, CUSTOMERS)
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    assert message in info.value.render()
