"""The state snapshot: the previous state read back in one blob is exactly what current_tiers
holds, after every kind of change, and anything that makes the two differ falls back to
current_tiers (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tiers.store import bulk, snapshot
from tiers.store.schema import current_tiers, schema_version, state_snapshots
from tiers.store.store import StateStore

TS = pa.timestamp("us")
H1 = dt.datetime(2026, 6, 30, 23, 59, 59, 999999)


def result(ids: list[str], tiers: list[str], held: list[dt.datetime | None] | None = None,
           segments: list[list[str]] | None = None) -> pa.Table:
    rank = {"basic": 0, "silver": 1, "gold": 2}
    n = len(ids)
    return pa.table({
        "customer_id": ids, "tier": tiers,
        "tier_rank": pa.array([rank[t] for t in tiers], pa.int8()),
        "held_until": pa.array(held or [None] * n, TS),
        "segments": pa.array(segments or [[]] * n, pa.list_(pa.string())),
    })


def record(store: StateStore, table: pa.Table, day: int) -> dict[str, int]:
    handle = store.begin_run("shop", "x", dt.datetime(2026, 1, day))
    info = store.record(SimpleNamespace(table=table, event_counts={}, run=handle), None,
                        handle)
    store.finish_run(handle, "done")
    return info


def stored(store: StateStore) -> tuple[pa.Table | None, pa.Table]:
    """(the snapshot, current_tiers read row by row), both sorted by customer id."""
    with store.engine.connect() as conn:
        snap = snapshot.read(conn, "shop")
        rows = bulk.read_current(conn, "shop")
    return (None if snap is None else snap.sort_by("customer_id"),
            rows.sort_by("customer_id"))


def parts(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(state_snapshots)).scalar()
    engine.dispose()
    return n


RUNS = [
    # first run: everyone new, with a hold and segments
    result(["C1", "C2", "C3"], ["gold", "silver", "basic"], [H1, None, None],
           [["big", "new"], [], ["ünïcode"]]),
    # nothing changed
    result(["C1", "C2", "C3"], ["gold", "silver", "basic"], [H1, None, None],
           [["big", "new"], [], ["ünïcode"]]),
    # C2 up, C1 loses its hold and a segment, C4 arrives, C3 is not in this result
    result(["C4", "C2", "C1"], ["basic", "gold", "gold"], None, [[], ["x"], ["big"]]),
]


def test_snapshot_is_current_tiers_after_every_kind_of_change(store_url):
    store = StateStore(store_url)
    for day, table in enumerate(RUNS, start=1):
        store._previous.clear()
        store.previous_arrow("shop")
        record(store, table, day)
        snap, rows = stored(store)
        assert snap is not None, f"run {day} left no snapshot"
        assert snap.equals(rows), f"run {day}: snapshot differs from current_tiers"
    # C3 kept from the first run, C4 added in the last
    assert snap.column("customer_id").to_pylist() == ["C1", "C2", "C3", "C4"]
    assert snap.column("held_until").to_pylist() == [None, None, None, None]
    store._previous.clear()
    assert store.previous_arrow("shop").sort_by("customer_id").equals(rows)
    store.dispose()


HAND_EDITS = {
    "delete": current_tiers.delete().where(current_tiers.c.customer_id == "C3"),
    "update": current_tiers.update().where(current_tiers.c.customer_id == "C3").values(
        tier="gold", tier_rank=2),
    "insert": current_tiers.insert().values(
        ruleset="shop", customer_id="C9", tier="gold", tier_rank=2,
        since=dt.datetime(2026, 1, 1), segments="", updated_run=1),
}


@pytest.mark.parametrize("edit", list(HAND_EDITS))
def test_rows_changed_by_hand_fall_back_to_current_tiers_and_heal(store_url, edit):
    store = StateStore(store_url)
    record(store, RUNS[0], 1)
    with store.engine.begin() as conn:
        conn.execute(HAND_EDITS[edit])
    snap, rows = stored(store)
    assert snap is None
    store._previous.clear()
    prev = store.previous_arrow("shop")
    assert prev.sort_by("customer_id").equals(rows)
    record(store, RUNS[0].slice(0, 2), 2)
    snap, rows = stored(store)
    assert snap is not None and snap.equals(rows)  # rewritten, changed or not
    store.dispose()


def test_a_damaged_snapshot_is_not_used(store_url):
    store = StateStore(store_url)
    record(store, RUNS[0], 1)
    with store.engine.begin() as conn:
        conn.execute(state_snapshots.update().values(data=b"not arrow"))
    snap, rows = stored(store)
    assert snap is None
    store._previous.clear()
    assert store.previous_arrow("shop").sort_by("customer_id").equals(rows)
    store.dispose()


def test_a_large_snapshot_is_kept_in_parts(store_url, monkeypatch):
    monkeypatch.setattr(snapshot, "PART_BYTES", 512)
    ids = [f"C{i:05d}" for i in range(3000)]
    store = StateStore(store_url)
    record(store, result(ids, ["silver"] * len(ids)), 1)
    assert parts(store_url) > 2
    snap, rows = stored(store)
    assert snap is not None and snap.equals(rows)
    store.dispose()


def test_a_store_from_before_snapshots_is_upgraded_and_snapshotted(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    record(store, RUNS[0], 1)
    store.dispose()
    # what a store at schema version 1 looked like
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        state_snapshots.drop(conn)
        conn.execute(schema_version.delete())
        conn.execute(schema_version.insert().values(version=1,
                                                    applied_at=dt.datetime(2026, 1, 1)))
    engine.dispose()
    store = StateStore(url)
    assert stored(store)[0] is None
    assert record(store, RUNS[1], 2)["changed"] == 0
    snap, rows = stored(store)
    assert snap is not None and snap.equals(rows)
    with store.engine.begin() as conn:  # the upgrade installed the triggers too
        conn.execute(HAND_EDITS["update"])
    assert stored(store)[0] is None
    store.dispose()


@pytest.mark.parametrize("prev", [None, "empty"])
def test_merged_without_a_previous_state_is_the_upserts(prev):
    upserts = pa.table({
        "ruleset": ["shop"], "customer_id": ["C1"], "tier": ["gold"],
        "tier_rank": pa.array([2], pa.int16()), "since": pa.array([dt.datetime(2026, 1, 1)], TS),
        "held_until": pa.array([None], TS), "segments": ["a\x1fb"],
        "updated_run": pa.array([1], pa.int32())})
    empty = None if prev is None else pa.table(
        {k: pa.array([], t) for k, t in bulk.current_types().items()})
    out = snapshot.merged(empty, upserts)
    assert out.schema == pa.schema(list(bulk.current_types().items()))
    assert out.to_pylist() == [{"customer_id": "C1", "tier": "gold", "tier_rank": 2,
                                "since": dt.datetime(2026, 1, 1), "held_until": None,
                                "segments_text": "a\x1fb"}]


def test_previous_state_has_the_state_schema_and_each_read_its_own_rows(tmp_path):
    import ibis

    from tiers.core.record import PREVIOUS_STATE_SCHEMA
    from tiers.store.store import previous_state_table

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    record(store, RUNS[0], 1)
    con = ibis.duckdb.connect()
    first = store.previous("shop", con)
    expected = previous_state_table(store.previous_arrow("shop")).sort_by("customer_id")
    # the segments split by the engine: the same columns, types and lists as in Arrow
    assert first.schema() == ibis.memtable(expected).schema()
    assert list(first.columns) == list(PREVIOUS_STATE_SCHEMA)
    got = con.to_pyarrow(first.order_by("customer_id"))
    assert got.cast(expected.schema).equals(expected)
    assert got.column("segments").to_pylist() == [["big", "new"], [], ["ünïcode"]]
    # a second read, after the state moved on, reads its own rows: the first keeps its own
    record(store, RUNS[2], 2)
    second = store.previous("shop", con)
    assert con.to_pyarrow(first.order_by("customer_id")).equals(got)
    assert con.to_pyarrow(second).num_rows == 4
    store.dispose()
