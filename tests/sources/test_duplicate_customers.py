"""One row per customer in the customers table, whatever the source kind: a second row with
the same customer id is rejected (default) or dropped after the first, with its line in the
rejects file, so a customer is never counted twice."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.conftest import read_rejects, rows
from tests.sources.test_sql_source import needs_pg
from tiers.plugins.sources.quality import RejectsError

# C1 twice with different contents; the second copy also has a zero-width space in its id,
# which normalisation removes, so it is the same customer
CUSTOMERS = [("customer_id", "name", "signup_date"),
             ("C1", "Ann", "2025-01-05"),
             ("C2", "Bo", "2025-02-01"),
             ("C1\u200b", "Ann B.", "2025-03-01"),
             ("C3", "Cy", "2025-04-01")]


def write_csv(path, data):
    path.write_text("".join(",".join(r) + "\n" for r in data), encoding="utf-8")


def as_arrow(data) -> pa.Table:
    header, *body = data
    return pa.table({h: [r[i] for r in body] for i, h in enumerate(header)})


def _csv(tmp_path):
    write_csv(tmp_path / "customers.csv", CUSTOMERS)
    return "type: csv\npath: customers.csv"


def _parquet(tmp_path):
    pq.write_table(as_arrow(CUSTOMERS), tmp_path / "customers.parquet")
    return "type: parquet\npath: customers.parquet"


def _sql(tmp_path):
    import duckdb

    db = duckdb.connect(str(tmp_path / "crm.duckdb"))
    frame = as_arrow(CUSTOMERS)
    db.register("frame", frame)
    db.execute("CREATE TABLE customers AS SELECT * FROM frame")
    db.close()
    return f"type: sql\nibis_url: duckdb:///{tmp_path / 'crm.duckdb'}\ntable: customers"


KINDS = {"csv": _csv, "parquet": _parquet, "sql": _sql}


def src_snippet(kind, tmp_path):
    """The data written once per test, the snippet each time."""
    if not any(tmp_path.glob("customers.*")) and not (tmp_path / "crm.duckdb").exists():
        return KINDS[kind](tmp_path)
    if kind == "sql":
        return f"type: sql\nibis_url: duckdb:///{tmp_path / 'crm.duckdb'}\ntable: customers"
    return f"type: {kind}\npath: customers.{kind}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_keep_first_keeps_one_row_per_customer(tmp_path, source_from, con, kind):
    snippet = src_snippet(kind, tmp_path) + "\nduplicate_customer_ids: keep_first"
    src = source_from(snippet, role="customers")
    got = rows(src.load(con), "customer_id")
    assert [(r["customer_id"], r["name"]) for r in got] == [
        ("C1", "Ann"), ("C2", "Bo"), ("C3", "Cy")]
    assert src.report.handled == {"duplicate_customer_id_dropped": 1}
    assert not src.report.rejected
    (dropped,) = read_rejects(src.report.rejects_file)
    # the csv header is line 1; parquet and sql number rows from 1
    assert dropped["line"] == ("4" if kind == "csv" else "3")
    assert dropped["reason"] == "duplicate_customer_id_dropped"
    assert dropped["name"] == "Ann B."


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_duplicate_customer_ids_are_rejected_by_default(tmp_path, source_from, con, kind):
    src = source_from(src_snippet(kind, tmp_path) + "\nmax_reject_share: 0.9", role="customers")
    got = rows(src.load(con), "customer_id")
    assert [r["customer_id"] for r in got] == ["C2", "C3"]
    assert src.report.rejected == {"duplicate_customer_id": 2}
    assert sorted(r["name"] for r in read_rejects(src.report.rejects_file)) == ["Ann", "Ann B."]
    strict = source_from(src_snippet(kind, tmp_path), role="customers")
    with pytest.raises(RejectsError, match="duplicate_customer_id 2"):
        strict.load(con)


def test_identical_customer_rows_count_as_duplicate_rows(tmp_path, source_from, con):
    write_csv(tmp_path / "customers.csv", [CUSTOMERS[0], CUSTOMERS[1], CUSTOMERS[1],
                                           CUSTOMERS[2]])
    src = source_from("type: csv\npath: customers.csv", role="customers")
    assert [r["customer_id"] for r in rows(src.load(con), "customer_id")] == ["C1", "C2"]
    assert src.report.handled == {"duplicate_row_dropped": 1}


def test_an_orders_table_is_not_keyed_by_customer(tmp_path, source_from, con):
    write_csv(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                        ("O1", "C1", "5", "2026-01-01"),
                                        ("O2", "C1", "7", "2026-01-02")])
    src = source_from("type: csv\npath: orders.csv")
    assert len(rows(src.load(con))) == 2 and not src.report.handled


def test_api_customers_keep_first(httpserver, source_from, con):
    header, *body = CUSTOMERS
    httpserver.expect_request("/customers").respond_with_json(
        [dict(zip(header, r, strict=True)) for r in body])
    src = source_from(f"type: api\nurl: {httpserver.url_for('/customers')}\n"
                      "duplicate_customer_ids: keep_first", role="customers")
    assert [r["customer_id"] for r in rows(src.load(con), "customer_id")] == ["C1", "C2", "C3"]
    assert src.report.handled == {"duplicate_customer_id_dropped": 1}
    (dropped,) = read_rejects(src.report.rejects_file)
    assert dropped["line"] == "3" and "/customers" in dropped["source"]


@needs_pg
def test_postgres_customers_keep_first(source_from, con):
    import uuid

    import sqlalchemy as sa

    from tests.sources.test_sql_source import PG_URL

    name = f"customers_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (customer_id text, name text)"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES ('C1', 'Ann'), ('C2', 'Bo'), "
                             "('C1', 'Ann B.')"))
    try:
        src = source_from(f"type: sql\nurl: '{PG_URL}'\ntable: {name}\n"
                          "duplicate_customer_ids: keep_first", role="customers")
        got = rows(src.load(con), "customer_id")
        assert [(r["customer_id"], r["name"]) for r in got] == [("C1", "Ann"), ("C2", "Bo")]
        assert src.report.handled == {"duplicate_customer_id_dropped": 1}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {name}"))
        engine.dispose()


RULESET = """\
name: shop
as_of: 2026-06-01
sources:
  orders: {{type: csv, path: orders.csv}}
  customers: {{type: csv, path: customers.csv{extra}}}
tiers: [{{id: normal}}, {{id: vip}}]
policies: [{{type: spend, thresholds: {{vip: 150}}}}]
"""


def test_run_counts_a_customer_once_and_lists_what_was_set_aside(tmp_path, cli):
    write_csv(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                        ("O1", "C1", "100", "2026-01-01"),
                                        ("O2", "C2", "20", "2026-01-02")])
    write_csv(tmp_path / "customers.csv", CUSTOMERS)
    ruleset = tmp_path / "r.yaml"
    ruleset.write_text(RULESET.format(extra=", duplicate_customer_ids: keep_first"))
    res = cli("run", ruleset, "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout[res.stdout.index("{"):])
    assert data["customers"] == 3  # C1, C2, C3: C1 once
    by_tier = {t["tier"]: t for t in data["tiers"]}
    # C1's spend is 100, not 200 (a second customers row would have doubled it)
    assert by_tier["vip"]["customers"] == 0 and by_tier["normal"]["spend"] == 120
    res = cli("run", ruleset)
    assert res.exit_code == 0, res.output
    assert "customers: 3 of 4 rows loaded; duplicate customer id dropped: 1" in res.output
    assert "shop.customers.csv" in res.output


def test_run_stops_on_rejected_duplicate_customers(tmp_path, cli):
    write_csv(tmp_path / "orders.csv", [("order_id", "customer_id", "amount", "order_ts"),
                                        ("O1", "C1", "100", "2026-01-01")])
    write_csv(tmp_path / "customers.csv", CUSTOMERS)
    ruleset = tmp_path / "r.yaml"
    ruleset.write_text(RULESET.format(extra=""))
    res = cli("run", ruleset)
    assert res.exit_code != 0
    assert "duplicate_customer_id 2" in res.output and "shop.customers.csv" in res.output
