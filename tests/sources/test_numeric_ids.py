"""Ids the data holds as numbers: the duplicate check marks them in a bitmap when their span is
small, hashes them otherwise, and finds every repeat either way."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.conftest import read_rejects, rows
from tiers.plugins.sources.quality import RejectsError

TS = dt.datetime(2026, 3, 1, 10)
BIG = 2**63 + 5  # beyond int64: has a text, but no int64 form

IDS = {
    "dense": (pa.int64(), [7, 8, 9, 10, 8, 11]),
    "negative": (pa.int64(), [-3, -2, -1, 0, -2, 1]),
    "sparse": (pa.int64(), [1, 10**15, 2 * 10**15, 3 * 10**15, 10**15, 4 * 10**15]),
    "int32": (pa.int32(), [1, 2, 3, 4, 2, 5]),
    "float": (pa.float64(), [1001.0, 1002.0, 1003.0, 1004.0, 1002.0, 1005.0]),
    "uint64": (pa.uint64(), [BIG, BIG + 1, BIG + 2, BIG + 3, BIG + 1, BIG + 4]),
}


def write_orders(tmp_path, dtype, ids, amounts=None):
    n = len(ids)
    pq.write_table(pa.table({
        "order_id": pa.array(ids, dtype),
        "customer_id": [f"C{i % 2}" for i in range(n)],
        "amount": amounts or [10.0 + i for i in range(n)],
        "order_ts": [TS] * n,
    }), tmp_path / "orders.parquet")


@pytest.mark.parametrize("kind", sorted(IDS))
def test_a_repeated_numeric_order_id_is_rejected_with_its_rows(tmp_path, source_from, con,
                                                                kind):
    dtype, ids = IDS[kind]
    write_orders(tmp_path, dtype, ids)
    src = source_from("type: parquet\npath: orders.parquet")
    with pytest.raises(RejectsError, match="duplicate_order_id 2"):
        src.load(con)
    bad = read_rejects(tmp_path / "rejects" / "shop.orders.csv")
    assert [r["line"] for r in bad] == ["2", "5"]


@pytest.mark.parametrize("kind", sorted(IDS))
def test_unique_numeric_order_ids_load_every_row(tmp_path, source_from, con, kind):
    dtype, ids = IDS[kind]
    unique = ids[:4] + ids[5:]
    write_orders(tmp_path, dtype, unique)
    src = source_from("type: parquet\npath: orders.parquet")
    got = rows(src.load(con), order_by="amount")
    assert len(got) == len(unique)
    assert src.report.rejected == {}


def test_a_repeat_of_a_rejected_row_is_not_a_duplicate(tmp_path, source_from, con):
    # the second 8 has no amount: it is rejected for that, and the first 8 stays usable
    write_orders(tmp_path, pa.int64(), [7, 8, 9, 10, 8, 11],
                 amounts=[1.0, 2.0, 3.0, 4.0, None, 6.0])
    src = source_from("type: parquet\npath: orders.parquet\nmax_reject_share: 0.5")
    got = rows(src.load(con))
    assert [r["order_id"] for r in got] == ["10", "11", "7", "8", "9"]
    assert src.report.rejected == {"missing_amount": 1}


def test_dense_ids_are_checked_with_a_bitmap_and_sparse_ones_hashed(tmp_path, source_from,
                                                                    con, monkeypatch):
    seen: list[str] = []
    raw_sql = type(con).raw_sql

    def spy(self, query, **kwargs):
        seen.append(str(query))
        return raw_sql(self, query, **kwargs)

    monkeypatch.setattr(type(con), "raw_sql", spy)
    for kind, marker in (("dense", "bitstring_agg"), ("sparse", "hash(")):
        dtype, ids = IDS[kind]
        write_orders(tmp_path, dtype, ids[:4])
        seen.clear()
        source_from("type: parquet\npath: orders.parquet").load(con)
        first_pass = [q for q in seen if "count(*) AS rows" in q]
        assert len(first_pass) == 1 and marker in first_pass[0], kind
