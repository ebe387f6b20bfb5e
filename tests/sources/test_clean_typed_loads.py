"""A typed load the first pass proves clean (every row usable, every text id plain) is read
again without the id normalising; one id that needs trimming or normalising keeps it."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.conftest import rows

TS = dt.datetime(2026, 3, 1, 10)


def write_orders(tmp_path, customer_ids):
    n = len(customer_ids)
    pq.write_table(pa.table({
        "order_id": pa.array(range(1, n + 1), pa.int64()),
        "customer_id": customer_ids,
        "amount": pa.array([10.0 + i for i in range(n)], pa.float64()),
        "order_ts": [TS] * n,
    }), tmp_path / "orders.parquet")


def normalises(con, table) -> bool:
    """Whether reading ``table`` runs the id normaliser, in its view or a view it reads."""
    views = dict(con.con.execute("SELECT view_name, sql FROM duckdb_views() "
                                 "WHERE NOT internal").fetchall())
    todo, seen = [table.op().name], set()
    while todo:
        sql = views[todo.pop()]
        if "tiers_normalise_id" in sql.lower():
            return True
        for name in views:
            if name not in seen and re.search(rf'\bFROM "?{name}\b"?(?!_)', sql):
                seen.add(name)
                todo.append(name)
    return False


def test_plain_ids_are_read_without_the_normaliser(tmp_path, source_from, con):
    write_orders(tmp_path, ["C1", "C2", "C1", "C3"])
    src = source_from("type: parquet\npath: orders.parquet")
    usable = src.load(con)
    assert not normalises(con, usable)
    got = rows(usable, order_by="amount")
    assert [r["customer_id"] for r in got] == ["C1", "C2", "C1", "C3"]
    assert [str(r["amount"]) for r in got] == ["10.00", "11.00", "12.00", "13.00"]
    assert [r["order_id"] for r in got] == ["1", "2", "3", "4"]
    assert src.report.rows_loaded == 4


@pytest.mark.parametrize("odd, plain", [
    (" C1", "C1"),            # padded: trimmed
    ("C1\t", "C1"),
    ("\uff23\uff11", "C1"),   # full-width letters: NFKC
    ("C\u200b1", "C1"),       # an invisible character
])
def test_one_id_needing_work_keeps_the_normaliser_for_the_load(tmp_path, source_from, con,
                                                              odd, plain):
    write_orders(tmp_path, ["C1", "C2", odd, "C3"])
    src = source_from("type: parquet\npath: orders.parquet")
    usable = src.load(con)
    got = rows(usable, order_by="amount")
    assert [r["customer_id"] for r in got] == ["C1", "C2", plain, "C3"]
    assert normalises(con, usable)


def test_a_load_with_a_rejected_row_is_not_read_as_clean(tmp_path, source_from, con):
    write_orders(tmp_path, ["C1", "C2", "", "C3"] + [f"C{i}" for i in range(4, 400)])
    src = source_from("type: parquet\npath: orders.parquet")
    got = rows(src.load(con), order_by="amount")
    assert len(got) == 399
    assert "" not in {r["customer_id"] for r in got}
    assert src.report.rejected == {"missing_customer_id": 1}
