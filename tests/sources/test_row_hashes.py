"""Duplicate rows of a table without a key: the first pass counts the usable rows' distinct
hashes, and only fewer hashes than rows (a repeat, or two rows whose hashes collide) runs the
exact DISTINCT, which alone decides."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from tests.sources.conftest import rows
from tiers.plugins.sources import quality

ROWS = [("C1", "100", "2026-01-01"), ("C1", "5", "2026-01-02"), ("C2", "5", "2026-01-02")]


def write(path, data):
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([("customer_id", "amount", "order_ts"),
                                                      *data])


@pytest.fixture
def statements(monkeypatch, con):
    """Every statement the load sends to DuckDB."""
    sent: list[str] = []
    raw_sql = con.raw_sql
    monkeypatch.setattr(con, "raw_sql", lambda sql, **kw: sent.append(str(sql))
                        or raw_sql(sql, **kw))
    return sent


def exact_distinct(sent: list[str]) -> list[str]:
    return [s for s in sent if "SELECT DISTINCT" in s]


def test_unique_rows_are_proven_by_their_hashes_alone(tmp_path, source_from, con, statements):
    write(tmp_path / "orders.csv", ROWS)
    src = source_from("type: csv\npath: orders.csv")
    assert len(rows(src.load(con), "amount")) == 3
    assert not src.report.handled and not src.report.rejected
    assert any("row_hashes" in s for s in statements)
    assert exact_distinct(statements) == []


def test_colliding_hashes_fall_back_to_the_exact_distinct(tmp_path, source_from, con,
                                                           statements, monkeypatch):
    first_pass_sql = quality._first_pass_sql

    def collided(*args, **kwargs):  # as if two different rows hashed alike
        out = first_pass_sql(*args, **kwargs)
        return {**out, "row_hashes": out["row_hashes"] - 1}

    monkeypatch.setattr(quality, "_first_pass_sql", collided)
    write(tmp_path / "orders.csv", ROWS)
    src = source_from("type: csv\npath: orders.csv")
    got = rows(src.load(con), "amount")
    assert len(got) == 3 and not src.report.handled  # nothing dropped: the rows differ
    assert len(exact_distinct(statements)) == 1


def test_a_repeated_row_is_still_found_and_dropped(tmp_path, source_from, con, statements):
    write(tmp_path / "orders.csv", [*ROWS, ROWS[0]])
    src = source_from("type: csv\npath: orders.csv")
    assert sorted(r["amount"] for r in rows(src.load(con), "amount")) == [
        Decimal("5.00"), Decimal("5.00"), Decimal("100.00")]
    assert src.report.handled == {"duplicate_row_dropped": 1}
