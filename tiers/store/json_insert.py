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

from tiers.core.sqltext import quote

if TYPE_CHECKING:
    from collections.abc import Callable

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
        for i, rows in enumerate(self.chunks):
            part = self.coded.digits[i * size:(i + 1) * size]
            conn.exec_driver_sql(self.sql, (*self.params, rows, part))
        # on a failure the caller's transaction rolls back, the temporary table with it
        conn.exec_driver_sql(f"DROP TABLE temp.{CODES}")


def prepare(name: str, rows: pa.Table, tail: str, chunk: int,
            ready: Callable[[pa.Table], pa.Table]) -> Insert | None:
    """The insert of ``rows`` (columns of text, integers, booleans or timestamps) into table
    ``name``, ``chunk`` rows per statement; ``tail`` follows the SELECT (ON CONFLICT ...).
    ``ready`` turns columns into values the driver binds (timestamps into text); only the
    columns that vary go through it. None when a text holds a NUL, which JSON would not give
    back unchanged."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    n = rows.num_rows
    names = rows.column_names
    index = pa.array(np.arange(n, dtype=np.int64))
    duck = duckdb.connect()
    try:
        duck.register("tiers_raw", rows.append_column("tiers_row", index))
        constant, few = _kinds(duck, rows, n, ready)
        varying = [c for c in names if c not in constant]
        values = (ready(rows.select(varying)).append_column("tiers_row", index) if varying
                  else pa.table({"tiers_row": index}))
        duck.register("tiers_rows", values)
        coded = _numbered(values, few, n)
        narrow = coded.columns if coded else []
        wide = [c for c in varying if c not in narrow]
        texts = [f"contains({quote(c)}, chr(0))" for c in wide
                 if pa.types.is_string(values.schema.field(c).type)
                 or pa.types.is_large_string(values.schema.field(c).type)]
        nul = f"bool_or({' OR '.join(texts)})" if texts else "false"
        chunks = duck.execute(
            f"SELECT '[' || string_agg({_element(wide)}, ',' ORDER BY tiers_row) || ']', {nul} "
            f"FROM tiers_rows GROUP BY tiers_row // {chunk} ORDER BY min(tiers_row)"
        ).fetchall()
    finally:
        duck.close()
    sent = [*constant.values(), *(v for combo in (coded.combos if coded else []) for v in combo)]
    if any(has_nul for _, has_nul in chunks) or any(
            isinstance(v, str) and "\x00" in v for v in sent):
        return None
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
    return Insert(sql, params, [text for text, _ in chunks], chunk, coded)


def _kinds(duck: Any, rows: pa.Table, n: int, ready: Callable[[pa.Table], pa.Table]
           ) -> tuple[dict[str, Any], list[str]]:
    """The columns of one value (or none) with that value as bound, and the columns that look
    like they have few values. The guess counts a sample: a wrong one costs speed, never
    rows. Only the columns of one value in the sample are read whole."""
    names = rows.column_names
    sample = duck.execute(
        f"SELECT {', '.join(f'approx_count_distinct({quote(c)})' for c in names)} "
        f"FROM tiers_raw WHERE tiers_row < {SAMPLE}").fetchone()
    distinct = dict(zip(names, sample, strict=True))
    single = [c for c in names if distinct[c] <= 1]
    constant: dict[str, Any] = {}
    if single:
        stats = ", ".join(f"count({q}), min({q}) IS NOT DISTINCT FROM max({q})"
                          for q in map(quote, single))
        row = duck.execute(f"SELECT {stats} FROM tiers_raw").fetchone()
        same = [c for i, c in enumerate(single) if row[2 * i] == n and row[2 * i + 1]]
        constant.update((c, None) for i, c in enumerate(single) if row[2 * i] == 0)
        if same:
            constant.update(ready(rows.slice(0, 1).select(same)).to_pylist()[0])
    few = [c for c in names
           if c not in constant and distinct[c] * FEW <= min(n, SAMPLE)]
    return constant, few


@dataclass(frozen=True)
class Coded:
    """Columns numbered by their combination: ``combos[i]`` holds combination i's values and
    ``digits`` each row's number, ``width`` ASCII digits per row."""

    columns: list[str]
    combos: list[tuple[Any, ...]]
    digits: bytes
    width: int


def _numbered(values: pa.Table, few: list[str], n: int) -> Coded | None:
    """Number the combinations of the ``few`` columns, taken from the fewest values up while
    there can be at most one combination per FEW rows; None when no column is numbered."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    limit = max(n // FEW, 1)
    encoded = {c: pc.dictionary_encode(values.column(c).combine_chunks(),
                                       null_encoding="encode") for c in few}
    kept = set()
    size = 1
    for c in sorted(few, key=lambda c: len(encoded[c].dictionary)):
        if size * len(encoded[c].dictionary) > limit:
            break
        size *= len(encoded[c].dictionary)
        kept.add(c)
    if not kept:
        return None
    # the columns in the table's order, as the SELECT names them; code = mixed-radix number
    columns = [c for c in values.column_names if c in kept]
    code = np.zeros(n, np.int64)
    for c in columns:
        code = code * len(encoded[c].dictionary) + encoded[c].indices.to_numpy(
            zero_copy_only=False)
    present = np.zeros(size, bool)
    present[code] = True
    found = np.flatnonzero(present)
    picked = []
    for c in reversed(columns):
        radix = len(encoded[c].dictionary)
        picked.append(encoded[c].dictionary.take(pa.array(found % radix)).to_pylist())
        found = found // radix
    combos = list(zip(*reversed(picked), strict=True))
    width = len(str(len(combos) - 1))
    # each combination's number as `width` ASCII digits, most significant first
    ids = np.arange(len(combos), dtype=np.int64)
    table = np.stack([ids // 10 ** k % 10 for k in reversed(range(width))], axis=1)
    digits = (table + ord("0")).astype(np.uint8)[(np.cumsum(present) - 1)[code]].tobytes()
    return Coded(columns, combos, digits, width)


def _element(wide: list[str]) -> str:
    if not wide:
        return "'0'"
    if len(wide) == 1:
        return f"coalesce(to_json({quote(wide[0])})::VARCHAR, 'null')"
    return f"json_array({', '.join(quote(c) for c in wide)})::VARCHAR"


def _load_codes(conn: sa.Connection, combos: list[tuple[Any, ...]]) -> None:
    columns = len(combos[0])
    cols = ", ".join(f"c{i}" for i in range(columns))
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{CODES}")
    # columns without a type keep each value as the driver binds it, as the target expects
    conn.exec_driver_sql(f"CREATE TEMP TABLE {CODES} (id INTEGER PRIMARY KEY, {cols})")
    marks = ", ".join("?" for _ in range(columns + 1))
    conn.exec_driver_sql(f"INSERT INTO temp.{CODES} VALUES ({marks})",
                         [(i, *combo) for i, combo in enumerate(combos)])
