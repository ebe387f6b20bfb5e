"""The sql source against a real PostgreSQL (started by .ci/setup.d/20-postgres.sh) and an
Ibis backend (a DuckDB file)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal

import pytest

from tests.sources.conftest import rows
from tiers.plugins.sources.quality import RejectsError, SourceError

PG_URL = os.environ.get("TIERS_TEST_PG_URL")
needs_pg = pytest.mark.skipif(
    PG_URL is None, reason="TIERS_TEST_PG_URL unset: run .ci/setup.d/20-postgres.sh (CI does)")


@pytest.fixture(scope="module")
def pg_url():
    """A fresh database for this module, dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"tiers_src_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            'CREATE TABLE "订单" (order_id text, "客户ID" integer, "金额" numeric(12, 2), '
            "ordered_at timestamptz, channel text)"))
        conn.execute(sa.text(
            "INSERT INTO \"订单\" VALUES "
            "('O1', 101, 1280.00, '2026-03-01 02:00:00+00', 'app'), "
            "('O2', 102, 35.50, '2026-03-02 12:00:00+08', 'web'), "
            "('O3', 101, 99.99, '2026-03-03 00:00:00+00', 'app')"))
        conn.execute(sa.text("CREATE SCHEMA crm"))
        conn.execute(sa.text("CREATE TABLE crm.orders (customer_id text, amount text, "
                             "order_ts text)"))
        conn.execute(sa.text("INSERT INTO crm.orders VALUES ('C1', '¥1,280.00', '2026/3/1'), "
                             "('C2', 'oops', '2026/3/2')"))
    engine.dispose()
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


MAPPING = "columns: {customer_id: 客户ID, amount: 金额, order_ts: ordered_at}\n"


@needs_pg
def test_postgres_table_with_chinese_names(pg_url, source_from, con):
    src = source_from(f"type: sql\nurl: '{pg_url}'\ntable: 订单\ntimezone: Asia/Shanghai\n"
                      + MAPPING)
    got = rows(src.load(con))
    assert [(r["order_id"], r["customer_id"], r["amount"], r["order_ts"]) for r in got] == [
        ("O1", "101", Decimal("1280.00"), dt.datetime(2026, 3, 1, 10)),
        ("O2", "102", Decimal("35.50"), dt.datetime(2026, 3, 2, 12)),
        ("O3", "101", Decimal("99.99"), dt.datetime(2026, 3, 3, 8)),
    ]


@needs_pg
def test_postgres_where_runs_in_the_database(pg_url, source_from, con):
    src = source_from(f"type: sql\nurl: '{pg_url}'\ntable: 订单\nwhere: \"channel = 'app'\"\n"
                      + MAPPING)
    assert [r["order_id"] for r in rows(src.load(con))] == ["O1", "O3"]


@needs_pg
def test_postgres_query_in_a_schema_with_text_amounts(pg_url, source_from, con):
    src = source_from(f"type: sql\nurl: '{pg_url}'\n"
                      "query: SELECT * FROM crm.orders ORDER BY customer_id\n"
                      "max_reject_share: 0.5")
    (row,) = src.load(con).to_pyarrow().to_pylist()
    assert row["amount"] == Decimal("1280.00") and row["order_ts"] == dt.datetime(2026, 3, 1)
    assert src.report.rejected == {"unparseable_amount": 1}


@needs_pg
def test_postgres_table_in_schema_too_many_rejects(pg_url, source_from, con):
    src = source_from(f"type: sql\nurl: '{pg_url}'\ntable: orders\ndb_schema: crm")
    with pytest.raises(RejectsError, match="unparseable_amount 1"):
        src.load(con)


@needs_pg
def test_wrong_password_is_reported_without_the_password(pg_url, source_from, con):
    import sqlalchemy as sa

    bad = sa.engine.make_url(pg_url).set(password="wrong-pw-123")
    src = source_from(f"type: sql\nurl: '{bad.render_as_string(hide_password=False)}'\n"
                      "table: 订单\n" + MAPPING)
    with pytest.raises(SourceError) as err:
        src.load(con)
    text = str(err.value)
    assert "the database query failed" in text and "password authentication failed" in text
    assert "wrong-pw-123" not in text and "***" in text


@needs_pg
def test_missing_table(pg_url, source_from, con):
    src = source_from(f"type: sql\nurl: '{pg_url}'\ntable: nope\n" + MAPPING)
    with pytest.raises(SourceError, match='relation "nope" does not exist'):
        src.load(con)


def test_ibis_backend_duckdb_file(tmp_path, source_from, con):
    import duckdb

    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as c:
        c.execute("CREATE TABLE orders AS SELECT 'C' || (i % 3) AS customer_id, "
                  "CAST(i AS DECIMAL(10,2)) AS amount, TIMESTAMP '2026-01-01' + "
                  "to_days(i) AS order_ts, 'O' || i AS order_id FROM range(10) t(i)")
    src = source_from(f"type: sql\nibis_url: 'duckdb://{db}'\ntable: orders")
    assert src.load(con).amount.sum().execute() == Decimal("45.00")
    src = source_from(f"type: sql\nibis_url: 'duckdb://{db}'\ntable: orders\n"
                      "where: 'amount >= 5'")
    assert src.load(con).count().execute() == 5


def test_table_and_query_together_is_a_config_error(tmp_path, source_from):
    from tiers.core.errors import RulesetError

    with pytest.raises(RulesetError, match="exactly one of `table` or `query`"):
        source_from("type: sql\nurl: 'sqlite://'\ntable: a\nquery: SELECT 1")
