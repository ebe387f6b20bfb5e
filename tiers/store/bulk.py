"""Bulk writes from Arrow tables: executemany on SQLite, COPY on PostgreSQL. Never an ORM loop.

Timestamps are written as text in SQLAlchemy's SQLite format so reads through SQLAlchemy parse
them; lists are never passed (callers join them to text first).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    import pyarrow as pa

CHUNK = 50_000


def _sqlite_ready(table: pa.Table) -> pa.Table:
    import pyarrow as pa

    cols = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            # Arrow writes microsecond timestamps as "YYYY-MM-DD HH:MM:SS.ffffff", SQLAlchemy's
            # own layout; a cast is 14x faster than strftime, which gives the same text
            col = col.cast(pa.timestamp("us")).cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)


Writer = Callable[[sa.Connection], None]


def write(conn: sa.Connection, target: sa.Table, rows: pa.Table,
          conflict: Sequence[str] = (), update: Sequence[str] | None = None,
          where: str | None = None) -> None:
    """Insert ``rows`` (columns named like ``target``'s) inside the caller's transaction.

    :param conflict: key columns; with ``update`` None a conflicting row is left alone
        (``DO NOTHING``), otherwise the ``update`` columns are overwritten.
    :param where: SQL condition on the existing row for the update (``DO UPDATE ... WHERE``).
    """
    prepare(conn.dialect.name, target, rows, conflict, update, where)(conn)


def prepare(dialect: str, target: sa.Table, rows: pa.Table, conflict: Sequence[str] = (),
            update: Sequence[str] | None = None, where: str | None = None) -> Writer:
    """What ``write`` does, with the work that needs no connection done now (the CSV for
    PostgreSQL, the JSON for SQLite): the writer returned runs the statements. So a table can
    be prepared in a thread while another is written."""
    if rows.num_rows == 0:
        return _nothing
    names = rows.column_names
    if dialect == "postgresql":
        return functools.partial(_copy, target=target, names=names, data=_csv(rows),
                                 conflict=conflict, update=update, where=where)
    cols = ", ".join(names)
    tail = ""
    if conflict:
        tail = f" ON CONFLICT ({', '.join(conflict)}) " + _on_conflict(target, update, where)
    if _json_types(rows):
        insert = _insert_json(target.name, rows, tail)
        if insert is not None:
            return insert
    ready = _sqlite_ready(rows)
    marks = ", ".join("?" for _ in names)
    sql = f"INSERT INTO {target.name} ({cols}) VALUES ({marks}){tail}"
    return functools.partial(_bound, sql=sql, ready=ready)


def _nothing(conn: sa.Connection) -> None:
    pass


def _bound(conn: sa.Connection, sql: str, ready: pa.Table) -> None:
    for start in range(0, ready.num_rows, CHUNK):
        chunk = ready.slice(start, CHUNK)
        params = list(zip(*(c.to_pylist() for c in chunk.columns), strict=True))
        conn.exec_driver_sql(sql, params)  # type: ignore[arg-type]


def _json_types(table: pa.Table) -> bool:
    """Whether every column's type goes through JSON unchanged: text, integers, booleans, and
    timestamps once written as text (SQLite gives back the same text, integer or 0/1 as the
    driver would bind; a text with a NUL is found by the insert itself)."""
    import sqlite3

    import pyarrow as pa

    if sqlite3.sqlite_version_info < (3, 38):  # ->> arrived in 3.38
        return False
    return all(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
               or pa.types.is_boolean(t) or pa.types.is_null(t) or pa.types.is_timestamp(t)
               for t in table.schema.types)


def _insert_json(name: str, rows: pa.Table, tail: str) -> Writer | None:
    from tiers.store import json_insert

    return json_insert.prepare(name, rows, tail, CHUNK, _sqlite_ready)


def _on_conflict(target: sa.Table, update: Sequence[str] | None, where: str | None) -> str:
    if not update:
        return "DO NOTHING"
    sql = f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in update)}"
    return sql + (f" WHERE {where.format(table=target.name)}" if where else "")


def _csv(rows: pa.Table) -> bytes:
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    # quoted strings keep '' apart from NULL (an unquoted empty field) in PostgreSQL CSV
    pacsv.write_csv(rows, buf, write_options=pacsv.WriteOptions(
        include_header=False, quoting_style="all_valid"))
    return buf.getvalue()


def _copy(conn: sa.Connection, target: sa.Table, names: list[str], data: bytes,
          conflict: Sequence[str], update: Sequence[str] | None, where: str | None) -> None:
    cols = ", ".join(names)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cur:
        if not conflict:
            with cur.copy(f"COPY {target.name} ({cols}) FROM STDIN (FORMAT csv)") as cp:
                cp.write(data)
            return
        tmp = f"tmp_{target.name}"
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} "
                    f"(LIKE {target.name} INCLUDING DEFAULTS) ON COMMIT DROP")
        cur.execute(f"TRUNCATE {tmp}")
        with cur.copy(f"COPY {tmp} ({cols}) FROM STDIN (FORMAT csv)") as cp:
            cp.write(data)
        action = _on_conflict(target, update, where)
        cur.execute(f"INSERT INTO {target.name} ({cols}) SELECT {cols} FROM {tmp} "
                    f"ON CONFLICT ({', '.join(conflict)}) {action}")


CURRENT_COLUMNS = ("customer_id", "tier", "tier_rank", "since", "held_until", "segments")


def current_types() -> dict[str, pa.DataType]:
    """read_current's columns and their Arrow types."""
    import pyarrow as pa

    ts = pa.timestamp("us")
    return {"customer_id": pa.string(), "tier": pa.string(), "tier_rank": pa.int8(),
            "since": ts, "held_until": ts, "segments_text": pa.string()}


def read_current(conn: sa.Connection, ruleset: str) -> pa.Table:
    """A ruleset's current_tiers as Arrow, parsed columnar: COPY to CSV on PostgreSQL, plain
    driver rows on SQLite (timestamps stay text until Arrow casts them)."""
    import pyarrow as pa

    types = current_types()
    ts = types["since"]
    cols = ", ".join(CURRENT_COLUMNS)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        with raw.cursor() as cur, cur.copy(
                f"COPY (SELECT {cols} FROM current_tiers WHERE ruleset = %s) "
                "TO STDOUT (FORMAT csv, FORCE_QUOTE (segments))", (ruleset,)) as cp:
            for block in cp:
                buf.write(block)
        if not buf.getvalue():
            return pa.table({c: pa.array([], t) for c, t in types.items()})
        return pacsv.read_csv(
            io.BytesIO(buf.getvalue()),
            read_options=pacsv.ReadOptions(column_names=list(types)),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False,
                null_values=[""]))
    # the driver's own tuples: SQLAlchemy's row objects cost more than the read at 1M rows
    cursor = raw.cursor()
    try:
        rows = cursor.execute(
            f"SELECT {cols} FROM current_tiers WHERE ruleset = ?", (ruleset,)).fetchall()
    finally:
        cursor.close()
    # timestamps come as SQLAlchemy's text and are cast columnar; the driver's tuples become
    # one struct array at once (4x faster than a Python list per column)
    as_text = {name: pa.string() if t == ts else t for name, t in types.items()}
    table = pa.Table.from_struct_array(pa.array(rows, pa.struct(list(as_text.items()))))
    return table.cast(pa.schema(list(types.items())))


def sql_type(t: pa.DataType) -> sa.types.TypeEngine:
    """The column type a new table gets for an Arrow type."""
    import pyarrow as pa

    if pa.types.is_integer(t):
        return sa.BigInteger()
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return sa.Float()
    if pa.types.is_boolean(t):
        return sa.Boolean()
    if pa.types.is_timestamp(t):
        return sa.DateTime()
    if pa.types.is_date(t):
        return sa.Date()
    return sa.Text()
