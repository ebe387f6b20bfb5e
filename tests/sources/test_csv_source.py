"""The csv source on the files people really export: Chinese spreadsheets, BOMs, odd dates."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from tests.sources.conftest import read_rejects, rows
from tiers.plugins.sources.quality import RejectsError, SourceError

D = Decimal
T = dt.datetime

GBK_ROWS = [
    ("订单号", "客户ID", "成交金额", "下单时间", "备注"),
    ("A1", "C001", "￥1,280.00", "2026/3/1 10:05", "首单"),
    ("A2", "C001", "￥35.50", "2026-03-02", ""),
    ("A3", "C002", "12,000", "20260303", "大客户"),
]
CN_MAPPING = """
columns: {order_id: 订单号, customer_id: 客户ID, amount: 成交金额, order_ts: 下单时间}
"""


@pytest.fixture(autouse=True, params=["copied", "read in place"])
def csv_path(request, monkeypatch):
    # small files are copied into DuckDB once, large ones read where they lie: every test
    # here runs both ways
    if request.param == "read in place":
        monkeypatch.setattr("tiers.plugins.sources.csv.COPY_BELOW_BYTES", -1)
    return request.param


def write(path, rows_, encoding="utf-8", delimiter=","):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows_)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def test_gbk_file_with_chinese_headers_and_yuan_amounts_loads(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", GBK_ROWS, encoding="gbk")
    src = source_from("type: csv\npath: orders.csv" + CN_MAPPING)
    got = rows(src.load(con))
    assert [(r["order_id"], r["customer_id"], r["amount"], r["order_ts"]) for r in got] == [
        ("A1", "C001", D("1280.00"), T(2026, 3, 1, 10, 5)),
        ("A2", "C001", D("35.50"), T(2026, 3, 2)),
        ("A3", "C002", D("12000.00"), T(2026, 3, 3)),
    ]
    assert got[0]["备注"] == "首单"  # unmapped columns keep their own header
    assert src.report.rows_loaded == 3 and not src.report.rejected


@pytest.mark.parametrize("declared", ["gbk", "GB18030", "auto"])
def test_encoding_can_be_declared_or_detected(tmp_path, source_from, con, declared):
    encoding = "gbk" if declared == "auto" else declared
    write(tmp_path / "orders.csv", GBK_ROWS, encoding=encoding)
    src = source_from(f"type: csv\npath: orders.csv\nencoding: {declared}" + CN_MAPPING)
    assert sum(r["amount"] for r in rows(src.load(con))) == D("13315.50")


def test_gb18030_file_may_use_the_halfwidth_yen_sign(tmp_path, source_from, con):
    data = [GBK_ROWS[0], ("A1", "C001", "¥1,280.00", "2026-03-01", "")]
    write(tmp_path / "orders.csv", data, encoding="gb18030")
    src = source_from("type: csv\npath: orders.csv" + CN_MAPPING)
    assert rows(src.load(con))[0]["amount"] == D("1280.00")


def test_utf8_with_bom_reads_the_first_header_cleanly(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", GBK_ROWS, encoding="utf-8-sig")
    src = source_from("type: csv\npath: orders.csv" + CN_MAPPING)
    assert [r["order_id"] for r in rows(src.load(con))] == ["A1", "A2", "A3"]


def test_date_formats_in_one_file(tmp_path, source_from, con):
    stamps = ["2026-03-01", "2026/3/1", "20260301", "2026-03-01 10:00:00", "2026/3/1 9:05",
              "2026-03-01T10:00:00.250", "2026年3月1日", "20260301 101500"]
    data = [("order_id", "customer_id", "amount", "order_ts")]
    data += [(f"O{i}", "C1", "1", s) for i, s in enumerate(stamps)]
    write(tmp_path / "orders.csv", data)
    src = source_from("type: csv\npath: orders.csv")
    loaded = sorted(rows(src.load(con)), key=lambda r: int(r["order_id"][1:]))
    got = [r["order_ts"] for r in loaded]
    assert got == [T(2026, 3, 1), T(2026, 3, 1), T(2026, 3, 1), T(2026, 3, 1, 10),
                   T(2026, 3, 1, 9, 5), T(2026, 3, 1, 10, 0, 0, 250000), T(2026, 3, 1),
                   T(2026, 3, 1, 10, 15)]


@pytest.mark.parametrize(("order", "expected"), [("dmy", T(2026, 3, 1)),
                                                 ("mdy", T(2026, 1, 3))])
def test_day_first_and_month_first_dates(tmp_path, source_from, con, order, expected):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("O1", "C1", "1", "01/03/2026")])
    src = source_from(f"type: csv\npath: orders.csv\ndate_order: {order}")
    assert rows(src.load(con))[0]["order_ts"] == expected


def test_time_zones_convert_to_naive_local_time(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [
        ("order_id", "customer_id", "amount", "order_ts"),
        ("O1", "C1", "1", "2026-03-01 00:30:00"),          # written in UTC (file_timezone)
        ("O2", "C1", "1", "2026-03-01T00:30:00+08:00"),    # explicit offset wins
        ("O3", "C1", "1", "2026-07-01T12:00:00Z"),
    ])
    src = source_from("type: csv\npath: orders.csv\ntimezone: Asia/Shanghai\n"
                      "file_timezone: UTC")
    assert [r["order_ts"] for r in rows(src.load(con))] == [
        T(2026, 3, 1, 8, 30), T(2026, 3, 1, 0, 30), T(2026, 7, 1, 20, 0)]


def test_daylight_saving_zone_is_respected(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [
        ("order_id", "customer_id", "amount", "order_ts"),
        ("W", "C1", "1", "2026-01-15T12:00:00Z"), ("S", "C1", "1", "2026-07-15T12:00:00Z")])
    src = source_from("type: csv\npath: orders.csv\ntimezone: Europe/Berlin")
    got = {r["order_id"]: r["order_ts"] for r in rows(src.load(con))}
    assert got == {"W": T(2026, 1, 15, 13), "S": T(2026, 7, 15, 14)}


def test_offsets_without_a_timezone_become_utc(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("O1", "C1", "1", "2026-03-01T08:00:00+08:00")])
    src = source_from("type: csv\npath: orders.csv")
    assert rows(src.load(con))[0]["order_ts"] == T(2026, 3, 1)


def test_unknown_time_zone_is_a_ruleset_problem(tmp_path, source_from):
    from tiers.core.errors import RulesetError

    write(tmp_path / "orders.csv", [("customer_id", "amount", "order_ts")])
    with pytest.raises(RulesetError) as err:
        source_from("type: csv\npath: orders.csv\ntimezone: Asia/Shangai")
    assert "unknown time zone 'Asia/Shangai'" in str(err.value)
    assert "sources.orders.timezone" in str(err.value)


def test_semicolon_delimiter_decimal_comma_and_quotes(tmp_path, source_from, con):
    (tmp_path / "orders.csv").write_text(
        'order_id;customer_id;amount;order_ts;note\n'
        'O1;C1;"1.280,50 €";2026-03-01;"says ""hi""; twice"\n', encoding="utf-8")
    src = source_from("type: csv\npath: orders.csv\ndelimiter: ';'\nthousands: '.'\n"
                      "decimal: ','", currency="EUR")
    (row,) = rows(src.load(con))
    assert row["amount"] == D("1280.50") and row["note"] == 'says "hi"; twice'


def test_several_files_by_glob_with_lines_per_file(tmp_path, source_from, con):
    header = ("order_id", "customer_id", "amount", "order_ts")
    (tmp_path / "exports").mkdir()
    write(tmp_path / "exports" / "2026-01.csv",
          [header, ("O1", "C1", "10", "2026-01-05"), ("O2", "C2", "x", "2026-01-06")])
    write(tmp_path / "exports" / "2026-02.csv",
          [header, ("O3", "C1", "5", "2026-02-01"), ("O4", "C3", "7", "2026-02-02")])
    src = source_from("type: csv\npath: exports/*.csv\nmax_reject_share: 0.5")
    assert [r["order_id"] for r in rows(src.load(con))] == ["O1", "O3", "O4"]
    (bad,) = read_rejects(src.report.rejects_file)
    assert bad["source"].endswith("2026-01.csv") and bad["line"] == "3"
    assert bad["reason"] == "unparseable_amount" and bad["amount"] == "x"


def test_glob_files_with_different_headers_are_refused(tmp_path, source_from, con):
    write(tmp_path / "a.csv", [("customer_id", "amount", "order_ts"), ("C1", "1", "2026-01-01")])
    write(tmp_path / "b.csv", [("customer_id", "total", "order_ts"), ("C1", "1", "2026-01-01")])
    with pytest.raises(SourceError, match=r"b\.csv has other columns than .*a\.csv"):
        source_from("type: csv\npath: '*.csv'").load(con)


def test_other_columns_keep_their_inferred_types(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts", "qty"),
                                    ("O1", "C1", "1", "2026-01-01", "3")])
    table = source_from("type: csv\npath: orders.csv").load(con)
    assert table.schema()["qty"].is_integer()
    assert table.schema()["customer_id"].is_string()
    assert table.schema()["amount"].is_decimal()


def test_numeric_customer_ids_stay_text(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("1", "00042", "1", "2026-01-01")])
    (row,) = rows(source_from("type: csv\npath: orders.csv").load(con))
    assert row["customer_id"] == "00042" and row["order_id"] == "1"


def test_rejects_below_the_share_are_written_aside_and_counted(tmp_path, source_from, con):
    good = [(f"O{i}", f"C{i % 7}", "10.00", "2026-01-01") for i in range(200)]
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"), *good,
                                    ("B1", "C1", "abc", "2026-01-01")])
    src = source_from("type: csv\npath: orders.csv")
    table = src.load(con)
    assert table.count().execute() == 200
    assert src.report.rejected == {"unparseable_amount": 1}
    (bad,) = read_rejects(tmp_path / "rejects" / "shop.orders.csv")
    assert bad["line"] == "202" and bad["order_id"] == "B1"
    assert "1 rejected (unparseable_amount 1)" in src.report.summary()


BAD_ROWS = [
    ("unparseable_amount", ("B1", "C1", "12abc", "2026-01-01")),
    ("missing_amount", ("B2", "C1", "", "2026-01-01")),
    ("non_finite_amount", ("B3", "C1", "NaN", "2026-01-01")),
    ("non_finite_amount", ("B4", "C1", "-inf", "2026-01-01")),
    ("amount_too_large", ("B5", "C1", "1e15", "2026-01-01")),
    ("unknown_currency", ("B6", "C1", "$12.00", "2026-01-01")),
    ("missing_customer_id", ("B7", "", "12", "2026-01-01")),
    ("unparseable_order_ts", ("B8", "C1", "12", "2026-02-30")),
    ("unparseable_order_ts", ("B9", "C1", "12", "yesterday")),
    ("missing_order_ts", ("B10", "C1", "12", "")),
    ("future_order_ts", ("B11", "C1", "12", "2099-01-01")),
]


@pytest.mark.parametrize(("reason", "row"), BAD_ROWS, ids=[r[1][0] for r in BAD_ROWS])
def test_each_kind_of_bad_row_is_named(tmp_path, source_from, con, reason, row):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("G1", "C1", "5", "2026-01-01"), row])
    src = source_from("type: csv\npath: orders.csv")
    with pytest.raises(RejectsError) as err:
        src.load(con)
    message = str(err.value)
    assert f"1 of 2 rows (50.00%) cannot be used, above the 1.00% allowed: {reason} 1" in message
    assert "sources.orders (orders.csv)" in message and "fix:" in message
    (bad,) = read_rejects(tmp_path / "rejects" / "shop.orders.csv")
    assert (bad["reason"], bad["line"], bad["order_id"]) == (reason, "3", row[0])


def test_negative_amounts_are_refunds_unless_declared_bad(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("O1", "C1", "100", "2026-01-01"),
                                    ("O2", "C1", "-¥30.00", "2026-01-02")])
    src = source_from("type: csv\npath: orders.csv")
    assert [r["amount"] for r in rows(src.load(con))] == [D("100.00"), D("-30.00")]
    src = source_from("type: csv\npath: orders.csv\nnegative_amounts: reject\n"
                      "max_reject_share: 0.5")
    assert [r["order_id"] for r in rows(src.load(con))] == ["O1"]
    assert src.report.rejected == {"negative_amount": 1}


def test_unknown_currency_column_is_rejected(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts", "currency"),
                                    ("O1", "C1", "100", "2026-01-01", "cny"),
                                    ("O2", "C1", "100", "2026-01-01", "USD")])
    src = source_from("type: csv\npath: orders.csv\nmax_reject_share: 0.5")
    assert [r["order_id"] for r in rows(src.load(con))] == ["O1"]
    assert src.report.rejected == {"unknown_currency": 1}


def test_exact_duplicate_rows_keep_the_first_by_default(tmp_path, source_from, con):
    row = ("O1", "C1", "100", "2026-01-01")
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    row, ("O2", "C1", "5", "2026-01-02"), row])
    src = source_from("type: csv\npath: orders.csv")
    assert [r["order_id"] for r in rows(src.load(con))] == ["O1", "O2"]
    assert src.report.handled == {"duplicate_row_dropped": 1} and not src.report.rejected
    assert "duplicate row dropped: 1" in src.report.summary()
    (dup,) = read_rejects(src.report.rejects_file)
    assert dup["line"] == "4"


def test_duplicate_rows_without_order_ids_keep_the_first(tmp_path, source_from, con):
    row = ("C1", "100", "2026-01-01")
    write(tmp_path / "orders.csv", [("customer_id", "amount", "order_ts"),
                                    row, ("C1", "5", "2026-01-02"), row, row])
    src = source_from("type: csv\npath: orders.csv")
    assert sorted(r["amount"] for r in rows(src.load(con), "amount")) == [D("5.00"), D("100.00")]
    assert src.report.handled == {"duplicate_row_dropped": 2}
    assert [d["line"] for d in read_rejects(src.report.rejects_file)] == ["4", "5"]


def test_duplicate_rows_with_blank_order_ids_keep_the_first(tmp_path, source_from, con):
    row = ("", "C1", "100", "2026-01-01")
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    row, ("O2", "C1", "5", "2026-01-02"), row])
    src = source_from("type: csv\npath: orders.csv")
    assert len(rows(src.load(con))) == 2
    assert src.report.handled == {"duplicate_row_dropped": 1}


def test_a_clean_load_reports_every_row_and_leaves_no_rejects_file(tmp_path, source_from,
                                                                   con):
    stale = tmp_path / "rejects" / "shop.orders.csv"
    stale.parent.mkdir()
    stale.write_text("from an earlier run\n")
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("O1", "C1", "¥1,280.00", "2026/3/1"),
                                    ("O2", "C2", "5", "20260302")])
    src = source_from("type: csv\npath: orders.csv")
    got = sorted(rows(src.load(con)), key=lambda r: r["order_id"])
    assert [r["amount"] for r in got] == [D("1280.00"), D("5.00")]
    assert (src.report.rows_read, src.report.rows_loaded) == (2, 2)
    assert src.report.rejects_file is None and not stale.exists()


@pytest.mark.parametrize(("policy", "ids", "amounts", "report"), [
    ("keep_first", ["O1", "O2"], [D("100.00"), D("5.00")],
     {"duplicate_order_id_dropped": 1}),
    ("sum", ["O1", "O2"], [D("130.00"), D("5.00")], {"duplicate_order_id_summed": 1}),
    ("allow", ["O1", "O1", "O2"], [D("100.00"), D("30.00"), D("5.00")], {}),
])
def test_duplicate_order_id_policies(tmp_path, source_from, con, policy, ids, amounts, report):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("O1", "C1", "100", "2026-01-01"),
                                    ("O2", "C1", "5", "2026-01-02"),
                                    ("O1", "C1", "30", "2026-01-01")])
    src = source_from(f"type: csv\npath: orders.csv\nduplicate_order_ids: {policy}")
    got = src.load(con).order_by(["order_id", "amount"]).to_pyarrow().to_pylist()
    if policy == "allow":
        got = sorted(got, key=lambda r: (r["order_id"], -r["amount"]))
    assert [r["order_id"] for r in got] == ids
    assert [r["amount"] for r in got] == amounts
    assert src.report.handled == report


def test_duplicate_order_ids_are_rejected_by_default(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                    ("O1", "C1", "100", "2026-01-01"),
                                    ("O1", "C1", "30", "2026-01-01")])
    with pytest.raises(RejectsError, match="duplicate_order_id 2"):
        source_from("type: csv\npath: orders.csv").load(con)


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "is empty (0 bytes)"),
    (b"order_id,customer_id,amount,order_ts\n", "has a header but no rows"),
    (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook (.xlsx); save the sheet as CSV"),
    (b"PAR1\x15\x04", "use `type: parquet`"),
    (b"<!DOCTYPE html><html><body>Login</body></html>", "looks like HTML/XML, not CSV"),
    (b'{"orders": []}', "looks like JSON, not CSV"),
    (b"\x00\x01\x02\x03garbage\x00", "is binary, not CSV text"),
])
def test_files_that_are_not_usable_csv(tmp_path, source_from, con, content, expected):
    (tmp_path / "orders.csv").write_bytes(content)
    with pytest.raises(SourceError) as err:
        source_from("type: csv\npath: orders.csv").load(con)
    assert expected in str(err.value) and "orders.csv" in str(err.value)


def test_header_only_file_is_accepted_when_declared(tmp_path, source_from, con):
    (tmp_path / "orders.csv").write_text("order_id,customer_id,amount,order_ts\n")
    src = source_from("type: csv\npath: orders.csv\nallow_empty: true")
    assert src.load(con).count().execute() == 0


def test_wrong_declared_encoding_is_explained(tmp_path, source_from, con):
    write(tmp_path / "orders.csv", GBK_ROWS, encoding="gbk")
    with pytest.raises(SourceError, match="cannot be decoded as utf-8"):
        source_from("type: csv\npath: orders.csv\nencoding: utf-8" + CN_MAPPING).load(con)


def test_row_with_too_many_fields_names_the_file(tmp_path, source_from, con):
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,amount,order_ts\nO1,C1,5,2026-01-01\nO2,C1,5,2026-01-01,x,y\n")
    with pytest.raises(SourceError) as err:
        source_from("type: csv\npath: orders.csv").load(con)
    assert "could not read" in str(err.value) and "orders.csv" in str(err.value)


def test_mapped_header_missing_is_a_validation_problem(tmp_path, source_from):
    from tiers.core.errors import RulesetError
    from tiers.core.plugins import get_plugin_manager
    from tiers.ruleset.loader import load_ruleset

    write(tmp_path / "orders.csv", GBK_ROWS, encoding="gbk")
    (tmp_path / "r.yaml").write_text(
        "name: x\nsources:\n  orders:\n    type: csv\n    path: orders.csv\n"
        "    columns: {customer_id: 客户编号, amount: 成交金额, order_ts: 下单时间}\n"
        "tiers: [{id: a}, {id: b}]\npolicies: [{type: spend, thresholds: {b: 100}}]\n",
        encoding="utf-8")
    _, registry = get_plugin_manager(entry_points=False)
    with pytest.raises(RulesetError) as err:
        load_ruleset(tmp_path / "r.yaml", registry=registry)
    text = str(err.value)
    assert "column '客户编号' (for customer_id) is not in the header" in text
    assert "客户ID" in text  # the headers the file really has are listed


def test_cli_run_reports_rows_set_aside(tmp_path):
    from typer.testing import CliRunner

    from tiers.cli.app import app, build_app

    rows_ = [("order_id", "customer_id", "amount", "order_ts")]
    rows_ += [(f"O{i}", f"C{i % 5}", "100", "2026-01-01") for i in range(300)]
    rows_ += [("O0", "C0", "100", "2026-01-01"), ("B1", "C1", "¥abc", "2026-01-01")]
    write(tmp_path / "orders.csv", rows_)
    (tmp_path / "r.yaml").write_text(
        "name: shop\nas_of: 2026-06-01\nsources:\n  orders: {type: csv, path: orders.csv}\n"
        "tiers: [{id: a}, {id: b}]\npolicies: [{type: spend, thresholds: {b: 5000}}]\n")
    build_app()
    res = CliRunner().invoke(app, ["run", str(tmp_path / "r.yaml")])
    assert res.exit_code == 0, res.output
    assert "orders: 300 of 302 rows loaded; 1 rejected (unparseable_amount 1)" in res.output
    assert "duplicate row dropped: 1" in res.output and "shop.orders.csv" in res.output
