"""The parquet source: single files, hive-partitioned folders, typed columns, broken files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.conftest import read_rejects, rows
from tiers.plugins.sources.quality import RejectsError, SourceError

ORDERS = pa.table({
    "order_id": ["O1", "O2", "O3"],
    "cust": [101, 102, 101],
    "amount": [120.5, 80.0, 35.25],
    "order_ts": [dt.datetime(2026, 3, 1, 10), dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 3)],
})


def test_single_file_with_a_mapped_numeric_customer_id(tmp_path, source_from, con):
    pq.write_table(ORDERS, tmp_path / "orders.parquet")
    src = source_from("type: parquet\npath: orders.parquet\ncolumns: {customer_id: cust}")
    got = rows(src.load(con))
    assert [(r["customer_id"], r["amount"]) for r in got] == [
        ("101", Decimal("120.50")), ("102", Decimal("80.00")), ("101", Decimal("35.25"))]
    assert got[0]["order_ts"] == dt.datetime(2026, 3, 1, 10)


def test_hive_partitioned_directory_adds_partition_columns(tmp_path, source_from, con):
    for month, part in ((3, ORDERS.slice(0, 2)), (4, ORDERS.slice(2))):
        folder = tmp_path / "orders" / "year=2026" / f"month={month}"
        folder.mkdir(parents=True)
        pq.write_table(part, folder / "part-0.parquet")
    src = source_from("type: parquet\npath: orders\ncolumns: {customer_id: cust}")
    got = rows(src.load(con))
    assert [(r["order_id"], r["month"]) for r in got] == [("O1", 3), ("O2", 3), ("O3", 4)]
    assert all(r["year"] == 2026 for r in got)


def test_nan_and_infinite_floats_are_rejected_with_file_row(tmp_path, source_from, con):
    table = ORDERS.set_column(2, "amount", pa.array([120.5, float("nan"), float("inf")]))
    pq.write_table(table, tmp_path / "orders.parquet")
    src = source_from("type: parquet\npath: orders.parquet\ncolumns: {customer_id: cust}")
    with pytest.raises(RejectsError, match="non_finite_amount 2"):
        src.load(con)
    bad = read_rejects(tmp_path / "rejects" / "shop.orders.csv")
    assert [(r["line"], r["order_id"]) for r in bad] == [("2", "O2"), ("3", "O3")]


def test_timezone_aware_timestamps_become_local_clock_time(tmp_path, source_from, con):
    stamps = pa.array([dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.timezone.utc)] * 3,
                      pa.timestamp("us", tz="UTC"))
    pq.write_table(ORDERS.set_column(3, "order_ts", stamps), tmp_path / "orders.parquet")
    src = source_from("type: parquet\npath: orders.parquet\ncolumns: {customer_id: cust}\n"
                      "timezone: Asia/Shanghai")
    assert {r["order_ts"] for r in rows(src.load(con))} == {dt.datetime(2026, 3, 1, 8, 30)}


def test_truncated_file_names_the_file(tmp_path, source_from, con):
    pq.write_table(ORDERS, tmp_path / "orders.parquet")
    data = (tmp_path / "orders.parquet").read_bytes()
    (tmp_path / "orders.parquet").write_bytes(data[: len(data) // 2])
    src = source_from("type: parquet\npath: orders.parquet\ncolumns: {customer_id: cust}")
    with pytest.raises(SourceError) as err:
        src.load(con)
    assert "orders.parquet is not a readable Parquet file" in str(err.value)
    assert "truncated" in str(err.value)


def test_truncated_file_is_a_validation_problem(tmp_path, source_from):
    from tiers.core.errors import RulesetError
    from tiers.core.plugins import get_plugin_manager
    from tiers.ruleset.loader import load_ruleset

    (tmp_path / "orders.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "r.yaml").write_text(
        "name: x\nsources:\n  orders: {type: parquet, path: orders.parquet}\n"
        "tiers: [{id: a}, {id: b}]\npolicies: [{type: spend, thresholds: {b: 100}}]\n")
    _, registry = get_plugin_manager(entry_points=False)
    with pytest.raises(RulesetError, match=r"cannot read Parquet at orders\.parquet"):
        load_ruleset(tmp_path / "r.yaml", registry=registry)


def test_missing_required_column_lists_what_the_file_has(tmp_path, source_from, con):
    pq.write_table(ORDERS, tmp_path / "orders.parquet")
    with pytest.raises(SourceError) as err:
        source_from("type: parquet\npath: orders.parquet").load(con)
    assert "needs customer_id" in str(err.value) and "cust" in str(err.value)


def test_missing_path(tmp_path, source_from, con):
    with pytest.raises(SourceError, match="no Parquet data found"):
        source_from("type: parquet\npath: nowhere/").load(con)
