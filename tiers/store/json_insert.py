"""SQLite inserts from Arrow through ``json_each``: DuckDB writes each chunk of rows as one JSON
array and SQLite unpacks it in C, instead of Python binding each value.

SQLite's ``->>`` costs about 0.2 µs per value, which made reading the values the largest part
of writing a first run's state. So each column is passed the cheapest way its values allow:

- a column holding one value in every row (the ruleset, the run), or none, is bound once;
- columns with few distinct values (tier, segments, event) are numbered by their
  combination; the combinations go to a small temporary table, and each row carries only the
  combination's number, cut by ``substr`` from one fixed-width blob per chunk;
- the remaining columns (the customer id) are the JSON array's elements: plain values when
  there is one, arrays read with ``->>`` when there are several.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

CODES = "tiers_bulk_codes"
# a column, or a combination of columns, is numbered when it has at most one distinct value
# per FEW rows: the numbers cost a join per row, which pays only when the table stays small
FEW = 8
# rows counted to guess which columns have few values
SAMPLE = 16_384


@dataclass(frozen=True)
class Insert:
    """The statements of one prepared insert, run on a connection by calling it."""

    sql: str
    params: list[Any]
    chunks: list[str]
    chunk: int
    coded: Coded | None

    def __call__(self, conn: sa.Connection) -> None:
        if self.coded is None:
            for rows in self.chunks:
                conn.exec_driver_sql(self.sql, (*self.params, rows))
            return
        _load_codes(conn, self.coded.combos)
        size = self.chunk * self.coded.width
        try:
            for i, rows in enumerate(self.chunks):
                part = self.coded.digits[i * size:(i + 1) * size]
                conn.exec_driver_sql(self.sql, (*self.params, rows, part))
        finally:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{CODES}")


def prepare(name: str, ready: pa.Table, tail: str, chunk: int) -> Insert | None:
    """The insert of ``ready`` (columns of text, integers or booleans) into table ``name``,
    ``chunk`` rows per statement; ``tail`` follows the SELECT (ON CONFLICT ...). None when a
    text holds a NUL, which JSON would not give back unchanged."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    n = ready.num_rows
    names = ready.column_names
    duck = duckdb.connect()
    try:
        duck.register("tiers_rows", ready.append_column(
            "tiers_row", pa.array(np.arange(n, dtype=np.int64))))
        kinds = _kinds(duck, ready, n)
        if kinds is None:
            return None
        constant, few = kinds
        coded = _numbered(ready, few, n)
        narrow = coded.columns if coded else []
        wide = [c for c in names if c not in constant and c not in narrow]
        chunks = [row for (row,) in duck.execute(
            f"SELECT '[' || string_agg({_element(wide)}, ',' ORDER BY tiers_row) || ']' "
            f"FROM tiers_rows GROUP BY tiers_row // {chunk} ORDER BY min(tiers_row)"
        ).fetchall()]
    finally:
        duck.close()
    params = [constant[c] for c in names if c in constant]
    places = {c: f"?{i}" for i, c in enumerate((c for c in names if c in constant), 1)}
    rows_at, codes_at = f"?{len(params) + 1}", f"?{len(params) + 2}"
    picks = []
    for c in names:
        if c in places:
            picks.append(places[c])
        elif c in narrow:
            picks.append(f"k.c{narrow.index(c)}")
        else:
            picks.append("j.value" if len(wide) == 1 else f"j.value ->> {wide.index(c)}")
    source = f"json_each({rows_at}) AS j"
    if coded:
        w = coded.width
        source += (f" CROSS JOIN temp.{CODES} AS k "
                   f"ON k.id = CAST(substr({codes_at}, j.key * {w} + 1, {w}) AS INTEGER)")
    sql = (f"INSERT INTO {name} ({', '.join(names)}) SELECT {', '.join(picks)} "
           f"FROM {source} WHERE true{tail}")
    return Insert(sql, params, chunks, chunk, coded)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _kinds(duck: Any, ready: pa.Table, n: int) -> tuple[dict[str, Any], list[str]] | None:
    """The columns of one value (or none) with that value, and the columns that look like they
    have few values; None when a text holds a NUL. Only a sample is counted for the guess: a
    wrong one costs speed, never rows."""
    import pyarrow as pa

    names = ready.column_names
    stats = []
    texts = []
    for c in names:
        q = _quoted(c)
        stats.append(f"count({q}), min({q}), max({q}), "
                     f"approx_count_distinct({q}) FILTER (WHERE tiers_row < {SAMPLE})")
        if pa.types.is_string(ready.schema.field(c).type) or pa.types.is_large_string(
                ready.schema.field(c).type):
            texts.append(f"contains({q}, chr(0))")
    nul = f"coalesce(bool_or({' OR '.join(texts)}), false)" if texts else "false"
    row = duck.execute(f"SELECT {', '.join(stats)}, {nul} FROM tiers_rows").fetchone()
    if row[-1]:
        return None
    constant: dict[str, Any] = {}
    few = []
    for i, c in enumerate(names):
        count, low, high, distinct = row[4 * i: 4 * i + 4]
        if count == 0:
            constant[c] = None
        elif count == n and low == high:
            constant[c] = low
        elif distinct * FEW <= min(n, SAMPLE):
            few.append(c)
    return constant, few


@dataclass(frozen=True)
class Coded:
    """Columns numbered by their combination: ``combos[i]`` holds combination i's values and
    ``digits`` each row's number, ``width`` ASCII digits per row."""

    columns: list[str]
    combos: list[tuple[Any, ...]]
    digits: bytes
    width: int


def _numbered(ready: pa.Table, few: list[str], n: int) -> Coded | None:
    """Number the combinations of the ``few`` columns, taken from the fewest values up while
    there can be at most one combination per FEW rows; None when no column is numbered."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    limit = max(n // FEW, 1)
    encoded = []
    size = 1
    for c in few:
        d = pc.dictionary_encode(ready.column(c).combine_chunks(), null_encoding="encode")
        encoded.append((c, d))
    encoded.sort(key=lambda e: len(e[1].dictionary))
    code = np.zeros(n, np.int64)
    kept = []
    for c, d in encoded:
        if size * len(d.dictionary) > limit:
            break
        size *= len(d.dictionary)
        code = code * len(d.dictionary) + d.indices.to_numpy(zero_copy_only=False)
        kept.append((c, d))
    if not kept:
        return None
    present = np.zeros(size, bool)
    present[code] = True
    dense = np.cumsum(present) - 1
    found = np.flatnonzero(present)
    values = []
    for _c, d in reversed(kept):
        values.append(d.dictionary.take(pa.array(found % len(d.dictionary))).to_pylist())
        found = found // len(d.dictionary)
    combos = list(zip(*reversed(values), strict=True))
    width = len(str(len(combos) - 1))
    table = np.array([list(f"{i:0{width}d}".encode()) for i in range(len(combos))], np.uint8)
    digits = table[dense[code]].tobytes()
    # the columns in the table's order, as the SELECT names them
    order = [c for c in ready.column_names if c in {c for c, _ in kept}]
    index = [[c for c, _ in kept].index(c) for c in order]
    return Coded(order, [tuple(combo[i] for i in index) for combo in combos], digits, width)


def _element(wide: list[str]) -> str:
    if not wide:
        return "'0'"
    if len(wide) == 1:
        return f"coalesce(to_json({_quoted(wide[0])})::VARCHAR, 'null')"
    return f"json_array({', '.join(_quoted(c) for c in wide)})::VARCHAR"


def _load_codes(conn: sa.Connection, combos: list[tuple[Any, ...]]) -> None:
    columns = len(combos[0])
    cols = ", ".join(f"c{i}" for i in range(columns))
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{CODES}")
    # columns without a type keep each value as the driver binds it, as the target expects
    conn.exec_driver_sql(f"CREATE TEMP TABLE {CODES} (id INTEGER PRIMARY KEY, {cols})")
    marks = ", ".join("?" for _ in range(columns + 1))
    conn.exec_driver_sql(f"INSERT INTO temp.{CODES} VALUES ({marks})",
                         [(i, *combo) for i, combo in enumerate(combos)])
