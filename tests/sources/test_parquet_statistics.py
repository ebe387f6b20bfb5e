"""Parquet statistics prove a clean load without computing a reason per row, and never hide a
bad row: each load below is compared with the same rows written without statistics, which
are checked row by row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.conftest import rows
from tiers.plugins.sources import quality

N = 30
AMOUNT = pa.decimal128(12, 2)


def orders(**change: Any) -> pa.Table:
    """N clean orders; ``change`` sets one column's value in row 17 (the second row group)."""
    data: dict[str, list[Any]] = {
        "order_id": list(range(1, N + 1)),
        "customer_id": [f"C{i % 7}" for i in range(N)],
        "amount": [Decimal(f"{10 + i}.50") for i in range(N)],
        "order_ts": [dt.datetime(2026, 1, 1) + dt.timedelta(days=i) for i in range(N)],
    }
    for column, value in change.items():
        data[column][17] = value
    return pa.table({
        "order_id": pa.array(data["order_id"], pa.int64()),
        "customer_id": pa.array(data["customer_id"], pa.string()),
        "amount": pa.array(data["amount"], AMOUNT),
        "order_ts": pa.array(data["order_ts"], pa.timestamp("us")),
    })


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each first pass over the data took the statistics' proof."""
    seen: list[bool] = []
    real = quality._first_pass_sql

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(bool(args[5] if len(args) > 5 else kwargs.get("proven", False)))
        return real(*args, **kwargs)

    monkeypatch.setattr(quality, "_first_pass_sql", spy)
    return seen


def load(tmp_path: Any, source_from: Any, con: Any, table: pa.Table, name: str,
         extra: str = "", **write: Any) -> tuple[Any, list[dict[str, Any]]]:
    pq.write_table(table, tmp_path / name, row_group_size=10, **write)
    src = source_from(f"type: parquet\npath: {name}\nmax_reject_share: 0.5\n{extra}")
    got = rows(src.load(con))
    report = src.report
    return (report.rows_read, report.rows_loaded, report.rejected), got


def both(tmp_path: Any, source_from: Any, con: Any, table: pa.Table, extra: str = ""
         ) -> tuple[Any, Any]:
    with_stats = load(tmp_path, source_from, con, table, "stats.parquet", extra)
    without = load(tmp_path, source_from, con, table, "plain.parquet", extra,
                   write_statistics=False)
    assert with_stats == without
    return with_stats


def test_a_clean_load_is_proven_by_the_footers(tmp_path, source_from, con, passes):
    report, got = both(tmp_path, source_from, con, orders())
    assert report == (N, N, {})
    assert len(got) == N
    # the file with statistics: one pass, proven; the one without: one pass, row by row
    assert passes == [True, False]


@pytest.mark.parametrize(("column", "value", "extra", "reason"), [
    ("customer_id", None, "", "missing_customer_id"),
    ("customer_id", "", "", "missing_customer_id"),
    ("amount", None, "", "missing_amount"),
    ("amount", Decimal("2000000000.00"), "", "amount_too_large"),
    ("amount", Decimal("-5.00"), "negative_amounts: reject", "negative_amount"),
    ("order_ts", None, "", "missing_order_ts"),
    ("order_ts", dt.datetime(1850, 1, 1), "", "out_of_range_order_ts"),
    ("order_ts", dt.datetime(2199, 1, 1), "", "future_order_ts"),
])
def test_each_kind_of_bad_value_is_found_by_the_proof(tmp_path, source_from, con, passes,
                                                       column, value, extra, reason):
    report, got = both(tmp_path, source_from, con, orders(**{column: value}), extra)
    assert report == (N, N - 1, {reason: 1})
    assert "18" not in [r["order_id"] for r in got]
    assert passes.count(True) == 0  # the proof failed: the rows were checked one by one


@pytest.mark.parametrize(("value", "reason"), [(" C1 ", None), ("   ", "missing_customer_id")])
def test_ids_that_need_trimming_are_checked_row_by_row(tmp_path, source_from, con, passes,
                                                      value, reason):
    table = orders(customer_id=value)
    ids = table["customer_id"].to_pylist()
    ids[3] = "\tC3"  # the least id, fine once trimmed: the footers alone would pass
    report, got = both(tmp_path, source_from, con,
                       table.set_column(1, "customer_id", pa.array(ids)))
    if reason is None:
        assert report == (N, N, {})
        assert [r["customer_id"] for r in got if r["order_id"] == "18"] == ["C1"]
    else:  # all spaces: empty once trimmed, which no statistic can tell
        assert report == (N, N - 1, {reason: 1})
    # proven, then counted again with the reasons since ids needed work; then the plain file
    assert passes[:2] == [True, False]


def test_a_column_without_statistics_is_checked_row_by_row(tmp_path, source_from, con,
                                                           passes):
    report, _ = load(tmp_path, source_from, con, orders(order_ts=None), "part.parquet",
                     write_statistics=["order_id", "customer_id"])
    assert report == (N, N - 1, {"missing_order_ts": 1})
    assert passes == [False]


def test_float_amounts_are_never_proven(tmp_path, source_from, con, passes):
    table = orders().set_column(2, "amount", pa.array(
        [float("nan") if i == 17 else float(i) for i in range(N)]))
    report, _ = load(tmp_path, source_from, con, table, "floats.parquet")
    assert report == (N, N - 1, {"non_finite_amount": 1})
    assert passes == [False]


def test_several_files_are_proven_together(tmp_path, source_from, con, passes):
    folder = tmp_path / "orders"
    folder.mkdir()
    table = orders(order_ts=dt.datetime(1850, 1, 1))
    pq.write_table(table.slice(0, 15), folder / "a.parquet")
    pq.write_table(table.slice(15), folder / "b.parquet")
    src = source_from("type: parquet\npath: orders\nmax_reject_share: 0.5")
    got = rows(src.load(con))
    # the bad row is in the second file: the first file's statistics must not decide
    assert (src.report.rows_loaded, src.report.rejected) == (N - 1, {"out_of_range_order_ts": 1})
    assert len(got) == N - 1
    assert passes == [False]


def test_legacy_int96_timestamps_are_checked_row_by_row(tmp_path, source_from, con, passes):
    report, _ = load(tmp_path, source_from, con, orders(order_ts=dt.datetime(1850, 1, 1)),
                     "int96.parquet", use_deprecated_int96_timestamps=True)
    assert report == (N, N - 1, {"out_of_range_order_ts": 1})
    assert passes == [False]
