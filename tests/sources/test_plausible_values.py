"""Values an engine would accept but no shop could hold: ids that differ only by invisible
characters or compatibility forms, dates centuries away, number and date forms the docs do not
list. Ids are normalised; the rest is rejected with its line and a reason."""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sources.conftest import read_rejects, rows

HEADER = "order_id,customer_id,amount,order_ts\n"
# every one of these is customer C1 to a person reading the export
SAME_CUSTOMER = ["C1", "\u200bC1", "C1\u00a0", "\ufeffC1", " C1 ", "\uff23\uff11", "C\u20601",
                 "C\u200d1", "\u3000C1", "C1\u00ad", "\u202aC1\u202c", "\tC1"]


def write(tmp_path, lines, name="orders.csv"):
    (tmp_path / name).write_text(HEADER + "".join(line + "\n" for line in lines),
                                 encoding="utf-8")


def rejected(src):
    return {r["line"]: r["reason"] for r in read_rejects(src.report.rejects_file)}


def test_ids_that_differ_only_by_invisible_or_compatibility_forms_are_one(tmp_path,
                                                                          source_from, con):
    write(tmp_path, [f'O{i},"{cid}",10,2026-01-0{1 + i % 9}'
                     for i, cid in enumerate(SAME_CUSTOMER)])
    src = source_from("type: csv\npath: orders.csv")
    got = rows(src.load(con))
    assert {r["customer_id"] for r in got} == {"C1"}
    assert len(got) == len(SAME_CUSTOMER) and not src.report.rejected


def test_an_id_made_only_of_invisible_characters_is_missing(tmp_path, source_from, con):
    write(tmp_path, ["O1,C1,10,2026-01-01", "O2,\u200b\u00a0,10,2026-01-01",
                     "O3,\ufeff,10,2026-01-01", *[f"O{i},C{i},1,2026-01-02" for i in range(4, 40)]])
    src = source_from("type: csv\npath: orders.csv\nmax_reject_share: 0.1")
    assert len(rows(src.load(con))) == 37
    assert rejected(src) == {"3": "missing_customer_id", "4": "missing_customer_id"}
    # the rejects file shows the value as the file had it
    assert read_rejects(src.report.rejects_file)[0]["customer_id"] == "\u200b\u00a0"


def test_order_ids_are_normalised_before_the_duplicate_check(tmp_path, source_from, con):
    write(tmp_path, ["O1,C1,10,2026-01-01", "O1\u200b,C1,30,2026-01-01",
                     "O2,C1,5,2026-01-02"])
    src = source_from("type: csv\npath: orders.csv\nduplicate_order_ids: sum")
    got = rows(src.load(con))
    assert [(r["order_id"], r["amount"]) for r in got] == [("O1", Decimal("40.00")),
                                                           ("O2", Decimal("5.00"))]


def test_parquet_string_ids_are_normalised_too(tmp_path, source_from, con):
    pq.write_table(pa.table({"customer_id": ["C1", "C1\u00a0", "\uff23\uff11"],
                             "amount": [1.0, 2.0, 3.0],
                             "order_ts": [dt.datetime(2026, 1, 1)] * 3}),
                   tmp_path / "orders.parquet")
    src = source_from("type: parquet\npath: orders.parquet")
    assert {r["customer_id"] for r in rows(src.load(con), "amount")} == {"C1"}


def test_api_ids_are_normalised(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_json([
        {"customer_id": "C1", "amount": 1, "order_ts": "2026-01-01"},
        {"customer_id": "\u200bC1\u00a0", "amount": 2, "order_ts": "2026-01-02"}])
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}")
    assert {r["customer_id"] for r in rows(src.load(con), "amount")} == {"C1"}


def reference_id(text: str) -> str | None:
    """The documented rule, in plain Python: NFKC, drop controls and format characters,
    trim white space; empty means missing. ASCII text is only trimmed of spaces and tabs."""
    if text.isascii():
        return text.strip(" \t\r") or None
    out = unicodedata.normalize("NFKC", text)
    out = "".join(ch for ch in out if unicodedata.category(ch) not in ("Cc", "Cf"))
    return out.strip() or None


ID_CHARS = st.sampled_from(["C", "1", "a", " ", "\u00a0", "\u200b", "\u200d", "\ufeff",
                            "\u3000", "\uff23", "\uff11", "\ufb01", "e\u0301", "\u00e9", "\t",
                            "\u2060", "\u00ad", "客", "\u2028", "\u202f", "\x07"])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(ID_CHARS, max_size=6).map("".join), min_size=1, max_size=20))
def test_normalised_ids_follow_the_documented_rule(con, ids):
    import ibis

    from tiers.plugins.sources.functions import normalise_id, odd_id
    from tiers.plugins.sources.parsing import trimmed

    t = ibis.memtable(pa.table({"i": list(range(len(ids))), "s": ids}))
    value = normalise_id(t.s, odd_id(t.s, "duckdb"), trimmed(t.s), "duckdb").nullif("")
    got = con.to_pyarrow(t.mutate(v=value).order_by("i")).column("v").to_pylist()
    assert got == [reference_id(s) for s in ids]


@pytest.mark.parametrize(("stamp", "reason"), [
    ("1899-12-31", "out_of_range_order_ts"),
    ("0026-03-01", "out_of_range_order_ts"),
    ("0001/01/01", "out_of_range_order_ts"),
    ("2200-01-01", "out_of_range_order_ts"),
    ("9999-12-31 23:59:59", "out_of_range_order_ts"),
    ("2026-03-01 24:00:00", "unparseable_order_ts"),
    ("2026/3/1 24:00", "unparseable_order_ts"),
    ("2026-03-01 10:00:00 UTC", "unparseable_order_ts"),
    ("2026-03-01 10", "unparseable_order_ts"),
    ("infinity", "unparseable_order_ts"),
])
def test_dates_no_shop_could_hold_are_rejected(tmp_path, source_from, con, stamp, reason):
    # allow_future: the range applies all the same
    write(tmp_path, [f"O1,C1,10,{stamp}", "O2,C1,10,2026-03-01"])
    src = source_from("type: csv\npath: orders.csv\nallow_future: true\nmax_reject_share: 0.9")
    assert [r["order_id"] for r in rows(src.load(con))] == ["O2"]
    assert rejected(src) == {"2": reason}


def test_range_bounds_are_inclusive_below_and_exclusive_above(tmp_path, source_from, con):
    write(tmp_path, ["O1,C1,10,1900-01-01", "O2,C1,10,2199-12-31 23:59:59"])
    src = source_from("type: csv\npath: orders.csv\nallow_future: true")
    assert [r["order_ts"] for r in rows(src.load(con))] == [
        dt.datetime(1900, 1, 1), dt.datetime(2199, 12, 31, 23, 59, 59)]


def test_typed_timestamps_and_birthdays_out_of_range(tmp_path, source_from, con):
    pq.write_table(pa.table({
        "customer_id": ["C1", "C2", "C3"],
        "birthday": [dt.date(1985, 4, 2), dt.date(1, 1, 1), dt.date(1850, 6, 1)],
    }), tmp_path / "customers.parquet")
    src = source_from("type: parquet\npath: customers.parquet\nmax_reject_share: 0.9",
                      role="customers")
    assert [r["customer_id"] for r in rows(src.load(con), "customer_id")] == ["C1"]
    assert rejected(src) == {"2": "out_of_range_birthday", "3": "out_of_range_birthday"}


@pytest.mark.parametrize("amount", ["1_000", "+-5", "0x1p3", "1.5d", "2f", "1__0", "12e",
                                    "\uff11\uff12"])
def test_number_forms_the_docs_do_not_list_are_rejected(tmp_path, source_from, con, amount):
    write(tmp_path, [f"O1,C1,{amount},2026-03-01", "O2,C1,7,2026-03-01"])
    src = source_from("type: csv\npath: orders.csv\nmax_reject_share: 0.9")
    assert [r["order_id"] for r in rows(src.load(con))] == ["O2"]
    assert rejected(src) == {"2": "unparseable_amount"}


def test_documented_number_forms_still_read(tmp_path, source_from, con):
    forms = ["+12", ".5", "5.", "1e3", "1.2E+3", "-12.5", "0012"]
    write(tmp_path, [f"O{i},C1,{a},2026-03-01" for i, a in enumerate(forms)])
    src = source_from("type: csv\npath: orders.csv")
    got = sorted(rows(src.load(con)), key=lambda r: int(r["order_id"][1:]))
    assert [r["amount"] for r in got] == [Decimal(x) for x in
                                          ("12", "0.5", "5", "1000", "1200", "-12.5", "12")]
