"""`lifecycle`: states from order dates, with every boundary exactly on its threshold."""

from __future__ import annotations

import pytest

from tests.policytest import make_ruleset, metric_rows, segment_rows
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

ORDERS = [
    ("n", "2026-06-15 10:00:00", "10.00"),                                        # new
    ("n30", "2026-06-01 00:00:00", "10.00"),                 # first order exactly 30 days ago
    ("a", "2026-01-10 00:00:00", "10.00"), ("a", "2026-04-01 00:00:00", "10.00"),
    ("a", "2026-06-20 00:00:00", "10.00"),                                        # gaps < 90
    ("r", "2025-10-01 00:00:00", "10.00"), ("r", "2026-06-20 00:00:00", "10.00"),  # gap 262
    ("r90", "2026-03-01 00:00:00", "10.00"), ("r90", "2026-05-30 00:00:00", "10.00"),  # gap 90
    ("d", "2026-04-02 00:00:00", "10.00"),                   # last order exactly 90 days ago
    ("d89", "2026-04-02 00:00:01", "10.00"),                 # 89 whole days ago
    ("ch", "2025-07-01 00:00:00", "10.00"),                  # exactly 365 days ago
    # two orders at the same instant are one visit: the gap is to the order before them
    ("t", "2026-01-01 00:00:00", "10.00"), ("t", "2026-06-20 10:00:00", "10.00"),
    ("t", "2026-06-20 10:00:00", "5.00"),
    ("rf", "2026-06-20 10:00:00", "-5.00"),                  # only a refund: never purchased
]
CUSTOMERS = [(c, "2020-01-01") for c in
             ("n", "n30", "a", "r", "r90", "d", "d89", "ch", "t", "rf", "p")]  # p: no orders

HEAD = "tiers: [{id: base}]\npolicies:\n"
EXPECTED = {"n": "new", "n30": "active", "a": "active", "r": "returning", "r90": "returning",
            "d": "dormant", "d89": "active", "ch": "churned", "t": "returning",
            "rf": "prospect", "p": "prospect"}


def test_states(tmp_path):
    path = make_ruleset(tmp_path, HEAD + "  - type: lifecycle\n", ORDERS, CUSTOMERS)
    rows = metric_rows(path)
    assert {c: r["lifecycle_state"] for c, r in rows.items()} == EXPECTED
    assert rows["r"]["lifecycle_gap_days"] == 262
    assert rows["a"]["lifecycle_gap_days"] == 80
    assert rows["n"]["lifecycle_gap_days"] is None
    assert segment_rows(path) == {c: {s} for c, s in EXPECTED.items()}


def test_labels_rename_and_drop(tmp_path):
    path = make_ruleset(tmp_path, HEAD + """\
  - type: lifecycle
    dormant_days: 60
    churned_days: 120
    labels: {dormant: silent, prospect: null}
""", ORDERS, CUSTOMERS)
    segs = segment_rows(path)
    assert segs["d"] == {"silent"}        # 90 days: dormant from 60
    assert segs["ch"] == {"churned"}
    assert segs["p"] == set()
    assert segs["r90"] == {"returning"}   # gap 90 >= 60


@pytest.mark.parametrize(("body", "message"), [
    ("  - {type: lifecycle, dormant_days: 90, churned_days: 90}\n",
     "`churned_days` must be greater than `dormant_days`"),
    ("  - {type: lifecycle, labels: {sleeping: zz}}\n", "unknown state(s) in `labels`: sleeping"),
    ("  - {type: lifecycle, new_days: 0}\n", "greater than 0"),
])
def test_bad_config(tmp_path, body, message):
    path = make_ruleset(tmp_path, HEAD + body, ORDERS, CUSTOMERS)
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    assert message in info.value.render()


def test_the_latest_two_orders_match_the_window_on_ties(tmp_path, monkeypatch):
    """DuckDB's path (the two latest timestamps of one aggregate, ties looked up again) gives
    the window's first days and gap for every customer: one order, two at one instant, three
    at one instant after an earlier order, and many random ones with repeats."""
    import datetime as dt
    import random

    import ibis

    path = make_ruleset(tmp_path, HEAD + "  - type: lifecycle\n", ORDERS, CUSTOMERS)
    loaded = load_ruleset(path)
    (policy,) = loaded.policies
    rng = random.Random(7)
    base = dt.datetime(2026, 1, 1)
    rows = [("one", base), ("pair", base), ("pair", base),
            ("three", base), ("three", base + dt.timedelta(days=5)),
            ("three", base + dt.timedelta(days=5)), ("three", base + dt.timedelta(days=5))]
    rows += [(f"c{rng.randrange(300)}", base + dt.timedelta(hours=rng.randrange(40)))
             for _ in range(3000)]
    as_of = dt.datetime(2026, 7, 1)
    con = ibis.duckdb.connect()
    orders = con.create_table("orders", ibis.memtable({
        "customer_id": [r[0] for r in rows], "order_ts": [r[1] for r in rows],
        "amount": [10.0] * len(rows)}))

    from tiers.plugins.policies import lifecycle

    assert lifecycle.on_duckdb(orders) and not lifecycle.on_duckdb(ibis.memtable({"a": [1]}))

    def per_customer(engine: str) -> dict:

        monkeypatch.setattr(lifecycle, "on_duckdb", lambda table: engine == "duckdb")
        table = policy.customer_table({"orders": orders}, as_of)
        assert ("OVER" in ibis.to_sql(table, dialect="duckdb")) == (engine != "duckdb")
        return {r["customer_id"]: (r["lifecycle_first_days"], r["lifecycle_gap_days"])
                for r in con.to_pyarrow(table).to_pylist()}

    fast, window = per_customer("duckdb"), per_customer("pyspark")
    assert fast == window
    assert fast["one"][1] is None and fast["pair"][1] is None and fast["three"][1] == 5
    assert sum(1 for _, gap in fast.values() if gap == 0) > 10  # gaps under a day
