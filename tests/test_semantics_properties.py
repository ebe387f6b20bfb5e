"""Property tests: retention never drops more than K levels; `highest` is monotone."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tiers.engine.evaluate import combine
from tiers.engine.retention import assign
from tiers.ruleset.models import HoldPeriod, Retention

AS_OF = dt.datetime(2026, 7, 1)
LADDER = 5  # ranks 0..4
rank = st.integers(min_value=0, max_value=LADDER - 1)
held = st.sampled_from([None, AS_OF - dt.timedelta(days=1), AS_OF, AS_OF + dt.timedelta(days=1)])
customer = st.tuples(rank, st.one_of(st.none(), rank), held)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(customer, min_size=1, max_size=30),
       max_drop=st.integers(min_value=1, max_value=LADDER - 1),
       hold=st.sampled_from(["none", "rest_of_year", HoldPeriod(days=30)]),
       grace=st.integers(min_value=0, max_value=60))
def test_retention_never_drops_more_than_k(rows, max_drop, hold, grace):
    t = ibis.memtable(pa.table({
        "q": pa.array([r[0] for r in rows], pa.int8()),
        "p": pa.array([r[1] for r in rows], pa.int8()),
        "h": pa.array([r[2] for r in rows], pa.timestamp("us")),
    }))
    retention = Retention(hold=hold, max_drop=max_drop, grace_days=grace)
    new_rank, held_until = assign(t.q, t.p, t.h, retention, AS_OF)
    out = t.select(t.q, t.p, t.h, r=new_rank, hu=held_until).to_pyarrow().to_pylist()
    for row in out:
        q, p, r = row["q"], row["p"], row["r"]
        assert r >= q  # never below what is earned: upgrades apply at once
        if p is None:
            assert r == q
            continue
        assert r >= p - max_drop  # soft landing: at most K levels per evaluation
        assert r <= max(p, q)  # retention never raises a tier above the old one or the earned
        if row["h"] is not None and row["h"] > AS_OF:
            assert r >= p  # a running hold keeps the tier
        if r == 0:
            assert row["hu"] is None


thresholds = st.lists(st.integers(min_value=1, max_value=10_000), min_size=1,
                      max_size=LADDER - 1, unique=True).map(sorted)


def _ladder_rank(col: ibis.Value, edges: list[int]) -> ibis.Value:
    branches = [(col >= edge, i + 1) for i, edge in reversed(list(enumerate(edges)))]
    return ibis.cases(*branches, else_=ibis.null("int8")).cast("int8")


@settings(max_examples=40, deadline=None)
@given(spend_edges=thresholds, order_edges=thresholds,
       customers=st.lists(st.tuples(st.integers(0, 12_000), st.integers(0, 12_000),
                                    st.integers(0, 5_000)), min_size=1, max_size=30))
def test_highest_is_monotone_in_spend(spend_edges, order_edges, customers):
    """More spend (same orders) never yields a lower tier under `highest`."""
    t = ibis.memtable(pa.table({
        "spend": [c[0] for c in customers], "orders": [c[1] for c in customers],
        "more": [c[0] + c[2] for c in customers]}))
    base = combine([_ladder_rank(t.spend, spend_edges), _ladder_rank(t.orders, order_edges)],
                   "highest")
    more = combine([_ladder_rank(t.more, spend_edges), _ladder_rank(t.orders, order_edges)],
                   "highest")
    out = t.select(a=base, b=more).to_pyarrow().to_pylist()
    assert all(row["b"] >= row["a"] for row in out)
