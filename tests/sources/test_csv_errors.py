"""A malformed CSV line is named by its real line number, with what is wrong and the fix,
wherever it is in the file (within the engines' sniffing sample or far after it)."""

from __future__ import annotations

import pytest

from tests.sources.conftest import read_rejects, rows
from tiers.plugins.sources.quality import SourceError

HEADER = "order_id,customer_id,amount,order_ts\n"


def good(n: int, start: int = 0) -> str:
    return "".join(f"O{i},C{i % 50},5,2026-01-01\n" for i in range(start, start + n))


# (name, bad line, expected words in the message, expected words in the fix)
KINDS = [
    ("too many fields", "O2,C1,5,2026-01-01,x,y\n", "has 6 fields, the header has 4",
     "quote the values that contain `,`"),
    ("too few fields", "O2,C1,5\n", "has 3 fields, the header has 4", "give every line 4 fields"),
    ("unterminated quote", 'O2,"C1,5,2026-01-01\n', "opens a quoted value that is never closed",
     "close the quote on line"),
    ("overlong field", "O2,C1," + "9" * 3_000_000 + ",2026-01-01\n",
     "holds a value of more than 2,097,152 bytes, above the 1,048,576 a field may hold",
     "raise `max_field_bytes`"),
]


def error_for(tmp_path, source_from, con, text: bytes | str, snippet: str = "") -> str:
    path = tmp_path / "orders.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    with pytest.raises(SourceError) as err:
        source_from("type: csv\npath: orders.csv" + snippet).load(con)
    return str(err.value)


@pytest.mark.parametrize(("kind", "bad", "problem", "fix"), KINDS, ids=[k[0] for k in KINDS])
@pytest.mark.parametrize("before", [100, 60_000], ids=["in the sniffed sample", "far after it"])
def test_each_kind_of_broken_line_is_named_with_its_line(tmp_path, source_from, con, kind, bad,
                                                         problem, fix, before):
    # an unterminated quote runs to the end of the file: a few lines follow it
    text = HEADER + good(before) + bad + good(20, before)
    message = error_for(tmp_path, source_from, con, text)
    line = before + 2  # the header is line 1
    assert f"line {line} {problem}" in message, message
    assert "\n    fix: " + fix in message, message
    assert "orders.csv" in message and "Binder Error" not in message
    assert "CSV Error on Line: 1" not in message


def test_a_quote_closed_much_later_is_named_where_it_opens(tmp_path, source_from, con):
    text = HEADER + good(10) + 'O2,"C1,5,2026-01-01\n' + good(5, 10) + 'x",1\n' + good(3, 20)
    message = error_for(tmp_path, source_from, con, text)
    assert "line 12 has" in message and "runs over lines 12-18" in message
    assert "a quote on line 12 is probably not closed" in message


@pytest.mark.parametrize("before", [100, 60_000])
def test_wrong_encoding_names_the_line_and_byte(tmp_path, source_from, con, before):
    text = (HEADER + good(before)).encode() + "O2,Cé,5,2026-01-01\n".encode("latin-1")
    message = error_for(tmp_path, source_from, con, text)
    assert f"line {before + 2}" in message and "0xe9" in message
    assert "set `encoding:`" in message


def test_text_after_a_closing_quote(tmp_path, source_from, con):
    message = error_for(tmp_path, source_from, con,
                        HEADER + good(5) + 'O2,"C1"x,5,2026-01-01\n')
    assert "line 7" in message, message


def test_nul_bytes_near_the_start_stop_the_load_with_the_line(tmp_path, source_from, con):
    message = error_for(tmp_path, source_from, con, HEADER + good(40) + "O2,C\x001,5,2026-01-01\n")
    assert "is binary, not CSV text (a NUL byte on line 42)" in message


def test_nul_bytes_far_in_the_file_reject_that_row(tmp_path, source_from, con):
    # past the part of the file examined before reading: the row is set aside with its line
    (tmp_path / "orders.csv").write_text(
        HEADER + good(12_000) + "X2,C1,5,2026-01-01\nX3,C\x002,5,2026-01-01\n"
        + "X4,C4,5,2026-01-01\n", encoding="utf-8")
    src = source_from("type: csv\npath: orders.csv")
    assert len(rows(src.load(con))) == 12_002
    assert src.report.rejected == {"binary_content": 1}
    (bad,) = read_rejects(src.report.rejects_file)
    assert bad["line"] == "12003" and bad["order_id"] == "X3"


def test_nul_in_another_text_column_rejects_the_row(tmp_path, source_from, con):
    lines = [f"O{i},C1,5,2026-01-01,note {i}\n" for i in range(12_000)]
    lines[11_000] = "O11000,C1,5,2026-01-01,pasted \x00\x01 blob\n"
    (tmp_path / "orders.csv").write_text(HEADER.strip() + ",note\n" + "".join(lines),
                                         encoding="utf-8")
    src = source_from("type: csv\npath: orders.csv")
    assert len(rows(src.load(con))) == 11_999
    assert src.report.rejected == {"binary_content": 1}
    assert read_rejects(src.report.rejects_file)[0]["line"] == "11002"


def test_a_field_over_the_limit_but_within_a_line_is_rejected(tmp_path, source_from, con):
    big = "x" * 1_500_000
    text = HEADER.strip() + ",note\n" + "O1,C1,5,2026-01-01,short\n" + \
        f"O2,C1,5,2026-01-01,{big}\n" + "".join(f"O{i},C1,5,2026-01-01,n\n"
                                                for i in range(3, 300))
    (tmp_path / "orders.csv").write_text(text, encoding="utf-8")
    src = source_from("type: csv\npath: orders.csv")
    assert len(rows(src.load(con))) == 298
    assert src.report.rejected == {"field_too_large": 1}
    assert read_rejects(src.report.rejects_file)[0]["line"] == "3"


def test_the_field_limit_can_be_raised(tmp_path, source_from, con):
    big = "x" * 3_000_000
    (tmp_path / "orders.csv").write_text(HEADER.strip() + ",note\n"
                                         + f"O1,C1,5,2026-01-01,{big}\n", encoding="utf-8")
    src = source_from("type: csv\npath: orders.csv\nmax_field_bytes: 4000000")
    (row,) = rows(src.load(con))
    assert len(row["note"]) == 3_000_000


def test_gbk_files_get_the_same_messages(tmp_path, source_from, con):
    head = "订单号,客户ID,成交金额,下单时间\n" + "".join(
        f"A{i},客{i},￥5,2026-01-01\n" for i in range(30))
    text = (head + "A9,客9,￥5\n").encode("gbk")
    message = error_for(tmp_path, source_from, con, text,
                        "\ncolumns: {order_id: 订单号, customer_id: 客户ID, amount: 成交金额, "
                        "order_ts: 下单时间}")
    assert "line 32 has 3 fields, the header has 4" in message, message


def test_several_files_name_the_broken_one(tmp_path, source_from, con):
    (tmp_path / "a.csv").write_text(HEADER + good(5), encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + good(70_000) + "O1,C1\n", encoding="utf-8")
    with pytest.raises(SourceError) as err:
        source_from("type: csv\npath: '*.csv'").load(con)
    assert "b.csv as CSV: line 70002 has 2 fields" in str(err.value), str(err.value)
