"""Property: under the `highest` hit policy, more spend never yields a lower tier."""

from __future__ import annotations

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.policytest import make_ruleset
from tiers.engine.evaluate import _entry_rank, candidate_ranks
from tiers.ruleset.loader import load_ruleset

BODY = """
tiers: [{id: base}, {id: silver}, {id: gold}, {id: platinum}]
combine: highest
policies:
  - {type: spend, thresholds: {silver: 500, gold: 2000, platinum: 10000}}
  - {type: frequency, thresholds: {silver: 10, gold: 20, platinum: 50}}
  - type: expression
    tiers:
      gold: orders >= 5 and spend > 1000
      silver: spend / (orders + 1) >= 300
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = make_ruleset(tmp_path_factory.mktemp("prop"), BODY,
                        [("a", "2026-05-01 00:00:00", "1.00")])
    return load_ruleset(path)


amounts = st.floats(min_value=-500, max_value=20000, allow_nan=False).map(lambda x: round(x, 2))
rows = st.lists(st.tuples(amounts, st.floats(min_value=0, max_value=5000, allow_nan=False),
                          st.integers(min_value=0, max_value=80)), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_more_spend_never_lowers_the_tier(loaded, data):
    spend = [s for s, _, _ in data] + [s + extra for s, extra, _ in data]
    orders = [o for _, _, o in data] * 2
    n = len(data)
    t = ibis.memtable({"customer_id": [str(i) for i in range(2 * n)], "spend": spend,
                       "orders": orders})
    ranks, _ = candidate_ranks(loaded, t)
    got = t.mutate(r=_entry_rank(loaded, list(ranks.values()))).order_by(
        t.customer_id.cast("int64")).r.to_pyarrow().to_pylist()
    for i in range(n):
        assert got[n + i] >= got[i], (data[i], got[i], got[n + i])
