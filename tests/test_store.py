"""The state store on SQLite and PostgreSQL: migrations, previous state, only changed rows,
append-only history, atomic records and the run lock."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.shop import run_shop, write_shop
from tiers.store import bulk
from tiers.store.errors import RunLockedError, StoreError
from tiers.store.migrations import SCHEMA_VERSION
from tiers.store.schema import current_tiers, ledger, run_locks, runs, schema_version, tier_history
from tiers.store.store import StateStore


def rows(url: str, table: sa.Table, *where: object) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(sa.select(table).where(*where))]
    engine.dispose()
    return out


def test_new_store_gets_the_current_schema_version(store_url):
    StateStore(store_url).dispose()
    StateStore(store_url).dispose()  # reopening migrates nothing and adds no row
    assert [r["version"] for r in rows(store_url, schema_version)] == [SCHEMA_VERSION]


def test_store_from_a_newer_tiers_is_refused(store_url):
    StateStore(store_url).dispose()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(schema_version.insert().values(version=SCHEMA_VERSION + 1,
                                                    applied_at=dt.datetime(2030, 1, 1)))
    engine.dispose()
    with pytest.raises(StoreError, match="newer than this tiers"):
        StateStore(store_url)


def test_first_run_records_every_customer_and_entered_history(tmp_path, store_url):
    ruleset = write_shop(tmp_path)
    result = run_shop(ruleset, store_url)
    current = {r["customer_id"]: r for r in rows(store_url, current_tiers)}
    assert {c: r["tier"] for c, r in current.items()} == {
        "C1": "vip", "C2": "vip", "C3": "senior", "C4": "normal", "C5": "vip", "C6": "senior"}
    assert all(r["since"] == dt.datetime(2026, 6, 1) for r in current.values())
    history = rows(store_url, tier_history)
    assert sorted((h["customer_id"], h["event"], h["from_tier"]) for h in history)[:2] == [
        ("C1", "entered", None), ("C2", "entered", None)]
    assert len(history) == 6
    (run,) = rows(store_url, runs)
    assert (run["status"], run["customers"], run["changed"]) == ("done", 6, 6)
    assert run["id"] == result.run.id
    assert run["content_hash"] == result.ruleset.content_hash


def test_later_run_writes_only_changed_rows_and_appends_history(tmp_path, store_url):
    ruleset = write_shop(tmp_path)
    first = run_shop(ruleset, store_url)
    second = run_shop(ruleset, store_url, as_of="2026-06-02")  # same data: nothing changes
    write_shop(tmp_path, spend={"C4": 1500, "C1": 900})       # C4 up, C1 down
    third = run_shop(ruleset, store_url, as_of="2026-06-03")
    current = {r["customer_id"]: r for r in rows(store_url, current_tiers)}
    assert current["C4"]["tier"] == "senior" and current["C1"]["tier"] == "normal"
    assert current["C4"]["since"] == dt.datetime(2026, 6, 3)
    assert current["C3"]["since"] == dt.datetime(2026, 6, 1)  # unchanged tier keeps its since
    assert current["C3"]["updated_run"] == first.run.id       # never rewritten
    assert current["C4"]["updated_run"] == third.run.id
    by_run = {r["id"]: r["changed"] for r in rows(store_url, runs)}
    assert by_run == {first.run.id: 6, second.run.id: 0, third.run.id: 2}
    changes = sorted((h["customer_id"], h["from_tier"], h["to_tier"], h["event"])
                     for h in rows(store_url, tier_history, tier_history.c.run_id == third.run.id))
    assert changes == [("C1", "vip", "normal", "downgraded"), ("C4", "normal", "senior",
                                                               "upgraded")]
    assert len(rows(store_url, tier_history)) == 8  # 6 entered + 2 changes, nothing rewritten


def test_previous_has_the_contract_schema(tmp_path, store_url):
    from tiers.core.record import PREVIOUS_STATE_SCHEMA

    ruleset = write_shop(tmp_path)
    store = StateStore(store_url)
    assert store.previous("shop") is None  # before the first run
    run_shop(ruleset, store)
    store = StateStore(store_url)
    prev = store.previous("shop")
    schema = {name: str(t) for name, t in prev.schema().items()}
    assert list(schema) == list(PREVIOUS_STATE_SCHEMA)
    assert schema["tier_rank"] == "int8" and schema["segments"] == "array<string>"
    got = {r["customer_id"]: r for r in prev.to_pyarrow().to_pylist()}
    assert got["C2"]["tier"] == "vip" and got["C2"]["tier_rank"] == 2
    assert got["C4"]["segments"] == [] and got["C4"]["held_until"] is None
    store.dispose()


def test_a_failing_record_leaves_nothing_half_written(tmp_path, store_url, monkeypatch):
    ruleset = write_shop(tmp_path, actions="""
        - type: export
          path: out.csv
        """)
    real = bulk.write

    def failing(conn, target, data, *args, **kwargs):
        if target.name == "ledger":
            raise RuntimeError("disk full")
        return real(conn, target, data, *args, **kwargs)

    monkeypatch.setattr(bulk, "write", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        run_shop(ruleset, store_url)
    assert rows(store_url, current_tiers) == []
    assert rows(store_url, tier_history) == []
    assert rows(store_url, ledger) == []
    (run,) = rows(store_url, runs)
    assert run["status"] == "failed" and "disk full" in run["error"]
    assert rows(store_url, run_locks) == []  # the lock was released
    monkeypatch.setattr(bulk, "write", real)
    assert run_shop(ruleset, store_url).applied.done == 1  # and the next run works


def test_second_concurrent_run_fails_at_once(tmp_path, store_url):
    ruleset = write_shop(tmp_path)
    holder = StateStore(store_url)
    handle = holder.begin_run("shop", "hash", dt.datetime(2026, 6, 1))
    with pytest.raises(RunLockedError, match=r"another run of ruleset 'shop' is active") as e:
        run_shop(ruleset, store_url)
    assert f"run {handle.id}, pid {os.getpid()}" in str(e.value)
    assert "tiers runs --unlock shop" in str(e.value)
    holder.finish_run(handle, "done")
    assert run_shop(ruleset, store_url).run.id > handle.id  # free again once finished


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, store_url):
    ruleset = write_shop(tmp_path)
    StateStore(store_url).dispose()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        run_id = conn.execute(runs.insert().values(
            ruleset="shop", content_hash="x", as_of=dt.datetime(2026, 6, 1), status="running",
            started_at=dt.datetime(2026, 6, 1))).inserted_primary_key[0]
        conn.execute(run_locks.insert().values(ruleset="shop", run_id=run_id, pid=dead.pid,
                                               host=socket.gethostname(),
                                               acquired_at=dt.datetime(2026, 6, 1)))
    engine.dispose()
    result = run_shop(ruleset, store_url)
    assert any(f"took over the lock of run {run_id}" in n for n in result.notes)
    status = {r["id"]: r["status"] for r in rows(store_url, runs)}
    assert status == {run_id: "abandoned", result.run.id: "done"}


def test_lock_held_on_another_host_needs_unlock(tmp_path, store_url):
    from typer.testing import CliRunner

    from tiers.cli.app import build_app

    ruleset = write_shop(tmp_path)
    StateStore(store_url).dispose()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(run_locks.insert().values(ruleset="shop", run_id=99, pid=1,
                                               host="elsewhere", acquired_at=dt.datetime.now()))
    engine.dispose()
    with pytest.raises(RunLockedError):
        run_shop(ruleset, store_url)
    res = CliRunner().invoke(build_app(), ["runs", "--state", store_url, "--unlock", "shop"])
    assert res.exit_code == 7 and "--force" in res.output  # its process cannot be checked
    res = CliRunner().invoke(build_app(), ["runs", "--state", store_url, "--unlock", "shop",
                                           "--force"])
    assert res.exit_code == 0, res.output
    assert "removed the lock of run 99 (pid 1 on elsewhere)" in res.output
    assert run_shop(ruleset, store_url).run is not None


def test_backdated_run_records_nothing(tmp_path, store_url):
    ruleset = write_shop(tmp_path)
    run_shop(ruleset, store_url)
    result = run_shop(ruleset, store_url, as_of="2026-01-01")
    assert result.run is None
    assert "before the last recorded run" in result.notes[0]
    assert len(rows(store_url, runs)) == 1


def test_default_location_is_next_to_the_ruleset(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERS_STATE_URL", raising=False)
    ruleset = write_shop(tmp_path)
    result = run_shop(ruleset, True)
    assert (tmp_path / ".tiers" / "state.db").is_file()
    assert result.store_url == f"sqlite:///{tmp_path / '.tiers' / 'state.db'}"
    monkeypatch.setenv("TIERS_STATE_URL", str(tmp_path / "other.db"))
    run_shop(ruleset, True)
    assert (tmp_path / "other.db").is_file()


def test_unusable_store_url_is_a_clear_error(tmp_path):
    ruleset = write_shop(tmp_path)
    with pytest.raises(StoreError, match="is not usable"):
        run_shop(ruleset, "nosuchdb://x/y")


def test_bulk_timestamps_are_sqlalchemys_text_and_rows_go_in_key_order(tmp_path):
    import pyarrow as pa

    from tiers.store.diff import state_changes

    stamps = [dt.datetime(2026, 3, 1, 10, 5, 7, 250), dt.datetime(1969, 12, 31, 23, 59, 59),
              dt.datetime(2026, 3, 2)]
    result = pa.table({"customer_id": ["C3", "C1", "C2"], "tier": ["gold", "basic", "silver"],
                       "tier_rank": pa.array([2, 0, 1], pa.int8()),
                       "tier_since": pa.array(stamps, pa.timestamp("us")),
                       "held_until": pa.array([None, stamps[1], None], pa.timestamp("us"))})
    upserts, history = state_changes(result, None, stamps[2], 1, "shop")
    assert upserts["customer_id"].to_pylist() == ["C1", "C2", "C3"]
    assert history["customer_id"].to_pylist() == ["C1", "C2", "C3"]
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with store.engine.begin() as conn:
        bulk.write(conn, current_tiers, upserts)
    with store.engine.connect() as conn:
        text = conn.exec_driver_sql(
            "SELECT customer_id, since, held_until FROM current_tiers ORDER BY rowid").fetchall()
        typed = conn.execute(sa.select(current_tiers.c.customer_id, current_tiers.c.since,
                                       current_tiers.c.held_until)
                             .order_by(current_tiers.c.customer_id)).fetchall()
    assert text == [("C1", "1969-12-31 23:59:59.000000", "1969-12-31 23:59:59.000000"),
                    ("C2", "2026-03-02 00:00:00.000000", None),
                    ("C3", "2026-03-01 10:05:07.000250", None)]
    assert [tuple(r) for r in typed] == [("C1", stamps[1], stamps[1]), ("C2", stamps[2], None),
                                         ("C3", stamps[0], None)]
