"""The state store's diff: which customers' rows are written and which tier changes are kept,
computed in DuckDB from an Arrow result or from the engine's own DuckDB table (same answer)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from tiers.store.diff import Staged, state_changes

TS = pa.timestamp("us")
D1 = dt.datetime(2026, 1, 1)
H1 = dt.datetime(2026, 6, 30)
H2 = dt.datetime(2026, 9, 30)
AS_OF = dt.datetime(2026, 3, 1, 6, 30)
SINCE = dt.datetime(2026, 2, 14, 12)

PREV = pa.table({
    "customer_id": ["C1", "C2", "C3", "C4", "C6", "C7"],
    "tier": ["gold", "silver", "basic", "gold", "gold", "basic"],
    "tier_rank": pa.array([2, 1, 0, 2, 2, 0], pa.int8()),
    "since": pa.array([D1] * 6, TS),
    "held_until": pa.array([None, H1, None, None, None, None], TS),
    "segments_text": ["a", "", "", "a", "", ""],
})

RESULT = pa.table({
    "customer_id": ["C7", "C6", "C5", "C4", "C3", "C2", "C1"],
    "tier": ["silver", "basic", "basic", "gold", "silver", "silver", "gold"],
    "tier_rank": pa.array([1, 0, 0, 2, 1, 1, 2], pa.int8()),
    # the engine's own tier_since for C7 only
    "tier_since": pa.array([SINCE, None, None, None, None, None, None], TS),
    "held_until": pa.array([None, None, None, None, None, H2, None], TS),
    "segments": pa.array([[], [], None, ["a", "b"], [], [], ["a"]], pa.list_(pa.string())),
    "tier_event": pa.array(["pinned", None, None, None, None, None, None], pa.string()),
})


def _staged(table: pa.Table) -> Staged:
    duck = duckdb.connect()
    duck.register("arrow_result", table)
    duck.execute('CREATE TABLE "run_result" AS SELECT * FROM arrow_result')
    duck.unregister("arrow_result")
    return Staged(duck, '"run_result"')


@pytest.fixture(params=["arrow", "duckdb table"])
def source(request):
    return RESULT if request.param == "arrow" else _staged(RESULT)


def test_only_changed_customers_are_written_in_key_order(source):
    upserts, _ = state_changes(source, PREV, AS_OF, 7, "shop")
    rows = {r["customer_id"]: r for r in upserts.to_pylist()}
    # C1: same tier, hold and segments -> not written
    assert upserts["customer_id"].to_pylist() == ["C2", "C3", "C4", "C5", "C6", "C7"]
    assert rows["C2"]["since"] == D1 and rows["C2"]["held_until"] == H2   # hold changed only
    assert rows["C3"]["since"] == AS_OF                                   # tier changed
    assert rows["C4"]["segments"] == "a\x1fb" and rows["C4"]["since"] == D1
    assert rows["C5"]["since"] == AS_OF and rows["C5"]["segments"] == ""  # new, no segments
    assert rows["C7"]["since"] == SINCE                                   # the engine's own
    assert {r["ruleset"] for r in rows.values()} == {"shop"}
    assert {r["updated_run"] for r in rows.values()} == {7}


def test_history_has_tier_changes_with_their_events(source):
    _, history = state_changes(source, PREV, AS_OF, 7, "shop")
    assert history.select(["customer_id", "from_tier", "to_tier", "event"]).to_pylist() == [
        {"customer_id": "C3", "from_tier": "basic", "to_tier": "silver", "event": "upgraded"},
        {"customer_id": "C5", "from_tier": None, "to_tier": "basic", "event": "entered"},
        {"customer_id": "C6", "from_tier": "gold", "to_tier": "basic", "event": "downgraded"},
        {"customer_id": "C7", "from_tier": "basic", "to_tier": "silver", "event": "pinned"},
    ]
    assert set(history["at"].to_pylist()) == {AS_OF}
    assert set(history["run_id"].to_pylist()) == {7}


def test_unchanged_result_writes_nothing():
    same = pa.table({"customer_id": PREV["customer_id"], "tier": PREV["tier"],
                     "tier_rank": PREV["tier_rank"], "held_until": PREV["held_until"],
                     "segments": pa.array([["a"], [], [], ["a"], [], []],
                                          pa.list_(pa.string()))})
    for source in (same, _staged(same)):
        upserts, history = state_changes(source, PREV, AS_OF, 8, "shop")
        assert upserts.num_rows == 0 and history.num_rows == 0


def test_first_run_enters_everyone_and_leaves_the_engines_connection_clean():
    staged = _staged(RESULT)
    upserts, history = state_changes(staged, None, AS_OF, 1, "shop")
    assert upserts.num_rows == history.num_rows == RESULT.num_rows
    assert set(history["event"].to_pylist()) == {"entered", "pinned"}
    names = {r[0] for r in staged.duck.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    assert names == {"run_result"}


def test_aware_timestamps_and_an_aware_as_of_are_kept_as_utc():
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'Asia/Tokyo'")
    duck.execute("CREATE TABLE r AS SELECT 'C1' AS customer_id, 'gold' AS tier, "
                 "2::TINYINT AS tier_rank, TIMESTAMPTZ '2026-02-14 12:00:00+00' AS tier_since, "
                 "TIMESTAMPTZ '2026-06-30 00:00:00+00' AS held_until")
    tokyo = dt.timezone(dt.timedelta(hours=9))
    upserts, history = state_changes(Staged(duck, "r"), None,
                                     dt.datetime(2026, 3, 1, 15, 30, tzinfo=tokyo), 1, "shop")
    assert upserts["since"].to_pylist() == [SINCE]
    assert upserts["held_until"].to_pylist() == [H1]
    assert history["at"].to_pylist() == [AS_OF]


TRICKY = ["plain", "", None, 'qu"ote', "back\\slash", "new\nline\ttab", "ünïcødé ✓ 🎟",
          "\u2028sep", "x" * 5000]


def _stored(tmp_path, name: str, rows: pa.Table, chunk: int | None = None) -> list[tuple]:
    import sqlalchemy as sa

    from tiers.store import bulk

    engine = sa.create_engine(f"sqlite:///{tmp_path / name}")
    md = sa.MetaData()
    target = sa.Table("t", md, *[sa.Column(f.name, bulk.sql_type(f.type)) for f in rows.schema])
    with engine.begin() as conn:
        md.create_all(conn)
        bulk.write(conn, target, rows)
    with engine.connect() as conn:
        cols = ", ".join(f"{c}, typeof({c})" for c in rows.column_names)
        out = conn.exec_driver_sql(f"SELECT {cols} FROM t ORDER BY rowid").fetchall()
    engine.dispose()
    return [tuple(r) for r in out]


def test_bulk_rows_are_stored_as_the_driver_binds_them(tmp_path, monkeypatch):
    """The JSON insert and plain executemany store the same values and SQLite types, in the
    given order, across chunks, with columns of one value bound once: text with quotes,
    escapes, non-ASCII and line separators, '' apart from NULL, 64-bit and negative integers,
    booleans, timestamps."""
    from tiers.store import bulk

    n = len(TRICKY)
    rows = pa.table({
        "s": TRICKY,
        "i": pa.array([2**62, -(2**63), 0, None, 7, -1, 3, 4, 5], pa.int64()),
        "small": pa.array([1, 2, 3, 4, 5, 6, 7, 8, None], pa.int16()),
        "b": pa.array([True, False, None, True, True, False, True, False, True]),
        "at": pa.array([AS_OF, None, D1, H1, H2, SINCE, AS_OF, D1, None], TS),
        # the same in every row: bound once
        "ruleset": ["shop"] * n, "run": pa.array([3] * n, pa.int32()),
    })
    assert rows.num_rows == n
    monkeypatch.setattr(bulk, "CHUNK", 4)   # three chunks: order kept across them
    calls = []
    insert_json = bulk._insert_json
    monkeypatch.setattr(bulk, "_insert_json", lambda *a: calls.append(1) or insert_json(*a))
    by_json = _stored(tmp_path, "json.db", rows)
    assert calls == [1]
    monkeypatch.setattr(bulk, "_json_types", lambda table: False)
    by_driver = _stored(tmp_path, "driver.db", rows)
    assert by_json == by_driver
    assert [r[0] for r in by_json] == TRICKY
    assert by_json[0][2] == 2**62 and by_json[1][2] == -(2**63)


def _spied(monkeypatch) -> list:
    """Whether each JSON insert was prepared (True: written through JSON)."""
    from tiers.store import bulk

    prepared: list = []
    insert_json = bulk._insert_json

    def spy(*args):
        prepared.append(insert_json(*args))
        return prepared[-1]

    monkeypatch.setattr(bulk, "_insert_json", spy)
    return prepared


@pytest.mark.parametrize("where", ["row value", "numbered", "one value"])
def test_text_with_a_nul_is_bound_by_the_driver_and_kept_whole(tmp_path, monkeypatch, where):
    """A NUL anywhere (in a value each row carries, in a numbered combination, in a value
    bound once) sends the table to the driver, which keeps it whole."""
    from tiers.store import bulk

    returned = _spied(monkeypatch)
    n = 40
    cols = {"n": pa.array(range(n), pa.int64()), "s": ["c"] * n, "t": ["x"] * n}
    if where == "row value":
        cols["n"] = pa.array([f"a\x00{i}" for i in range(n)])
    elif where == "numbered":
        cols["s"] = ["a\x00b"] + ["c"] * (n - 1)
    else:
        cols["t"] = ["x\x00"] * n
    rows = pa.table(cols)
    stored = _stored(tmp_path, "nul.db", rows)
    assert returned == [None]
    assert [tuple(r[::2]) for r in stored] == list(zip(*(rows[c].to_pylist() for c in cols),
                                                      strict=True))
    assert bulk._json_types(pa.table({"s": ["ab", "c"]}))
    assert not bulk._json_types(pa.table({"f": [1.5]}))   # floats keep the driver's binding


def _numbering(monkeypatch) -> list:
    """How many combinations each numbered insert loaded."""
    from tiers.store import json_insert

    numbered: list = []
    load = json_insert._load_codes
    monkeypatch.setattr(json_insert, "_load_codes",
                        lambda conn, combos: numbered.append(len(combos)) or load(conn, combos))
    return numbered


def test_columns_of_few_values_are_numbered_and_stored_as_the_driver_binds_them(
        tmp_path, monkeypatch):
    """A column of few values (text, integers, booleans, with NULLs among them) is sent as
    the number of its combination; each shape (one other column, several, none) stores what
    the driver stores, in order, across chunks."""
    from tiers.store import bulk

    n = 1200
    few = {
        "tier": pa.array([["gold", "silver", None, 'q"x'][i % 4] for i in range(n)]),
        "rank": pa.array([[3, 2, None, -(2**63)][i % 4] for i in range(n)], pa.int64()),
        "flag": pa.array([[True, False, None][i % 3] for i in range(n)]),
        "seg": pa.array([["", "a\x1fb", "ü ✓"][i % 5 % 3] for i in range(n)]),
        "at": pa.array([[AS_OF, None][i % 7 // 6] for i in range(n)], TS),
    }
    ids = pa.array([f"C{i:04d}\n{TRICKY[i % len(TRICKY)] or ''}" for i in range(n)])
    shapes = {
        "one": pa.table({"id": ids, **few, "ruleset": ["shop"] * n,
                         "since": pa.array([SINCE] * n, TS), "gone": pa.nulls(n, TS)}),
        "several": pa.table({"id": ids, **few, "n": pa.array(range(n), pa.int64())}),
        "none": pa.table(few),
    }
    numbered = _numbering(monkeypatch)
    monkeypatch.setattr(bulk, "CHUNK", 500)
    returned = _spied(monkeypatch)
    for shape, rows in shapes.items():
        numbered.clear()
        by_json = _stored(tmp_path, f"{shape}-json.db", rows)
        combos = set(zip(*(c.to_pylist() for c in few.values()), strict=True))
        assert numbered == [len(combos)], shape
        with monkeypatch.context() as m:
            m.setattr(bulk, "_json_types", lambda table: False)
            assert _stored(tmp_path, f"{shape}-driver.db", rows) == by_json, shape
    assert len(returned) == 3 and None not in returned


def test_combinations_beyond_one_per_few_rows_go_as_row_values(tmp_path, monkeypatch):
    """Two columns of 8 values each: 64 combinations over 256 rows are too many, so one is
    numbered and the other travels with each row; the values are the driver's."""
    from tiers.store import bulk

    n = 256
    rows = pa.table({"a": [f"a{i % 8}" for i in range(n)], "b": [i // 32 for i in range(n)]})
    numbered = _numbering(monkeypatch)
    by_json = _stored(tmp_path, "json.db", rows)
    assert numbered == [8]
    monkeypatch.setattr(bulk, "_json_types", lambda table: False)
    assert _stored(tmp_path, "driver.db", rows) == by_json


def test_rows_of_one_value_each_are_all_bound(tmp_path):
    rows = pa.table({"ruleset": ["shop"], "n": pa.array([1], pa.int64())})
    assert _stored(tmp_path, "one.db", rows) == [("shop", "text", 1, "integer")]
