"""`tiers serve` over a PostgreSQL state store: the same answers, through read-only sessions.
Uses a database of its own on the server of $TIERS_TEST_PG_URL, dropped afterwards."""

from __future__ import annotations

import os
import uuid

import pytest

from .test_serve_process import record_run, start_server, workspace

PG = os.environ.get("TIERS_TEST_PG_URL")


@pytest.fixture
def pg_url():
    if not PG:
        pytest.skip("TIERS_TEST_PG_URL is not set (CI sets it via .ci/setup.d/20-postgres.sh)")
    import sqlalchemy as sa

    name = f"tiers_serve_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = PG.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin, name: str) -> None:
    """Drop the test's database. An autovacuum worker busy in it belongs to no role the test
    user may signal, so FORCE is refused until the worker is done: try again for a while."""
    import time

    import sqlalchemy as sa

    for attempt in range(50):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except sa.exc.ProgrammingError:
            if attempt == 49:
                raise
            time.sleep(0.2)


def test_serve_reads_a_postgresql_store(tmp_path, pg_url):
    import sqlalchemy as sa

    ruleset = workspace(tmp_path)
    record_run(ruleset, "--state", pg_url)
    s = start_server(ruleset, "--state", pg_url)
    try:
        with s.client() as c:
            customer = c.get("/v1/customers/C00001")
            dist = c.get("/v1/tiers").json()
            sim = c.post("/v1/customers/C00001/simulate", json={
                "as_of": "2026-11-21",
                "orders": [{"amount": 900, "order_ts": "2026-11-20T10:00:00"}]})
            health = c.get("/healthz").json()
    finally:
        assert s.stop() == 0
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        counts = dict(conn.exec_driver_sql(
            "SELECT tier, count(*) FROM current_tiers GROUP BY tier").fetchall())
        row = conn.exec_driver_sql("SELECT tier FROM current_tiers "
                                   "WHERE customer_id = 'C00001'").scalar()
    engine.dispose()
    assert customer.status_code == 200
    assert customer.json()["recorded"]["tier"] == row == "normal"
    assert {t["tier"]: t["customers"] for t in dist["tiers"]} == counts
    assert sim.status_code == 200 and sim.json()["tier"] == "senior"
    assert health == {"status": "ok", "store": "reachable"}
    assert "tiers:tiers@" not in "\n".join(s.stdout)  # the password is shown redacted
