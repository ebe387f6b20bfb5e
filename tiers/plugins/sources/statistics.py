"""What Parquet footers prove about a load, before a row is read.

A Parquet file keeps, for each column of each row group, its smallest and largest value and
its count of NULLs. Each reason a typed field is rejected for (missing, too large, out of
range, in the future) holds for some value between two that pass only if it holds for one of
them: the values a field accepts form one interval. So the load's own parse, run over a few
rows made of each column's extremes (and a NULL where the column has any), proves that no row
of the data is rejected, and the first pass over the data then checks only what statistics
cannot tell: duplicate keys and ids that need trimming (see quality.check_rows).

Floating-point columns are never proven this way (a NaN is left out of the statistics), nor
text other than ids, nor anything read through time zones; such loads are checked row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiers.core.sqltext import literal, quote

if TYPE_CHECKING:
    import ibis.expr.types as ir


@dataclass(frozen=True)
class Extremes:
    """Columns' least and greatest values over every row group, kept in the backend's table
    ``table`` (one row; ``low_<i>`` and ``high_<i>`` for ``columns[i]``, NULL when every
    value is NULL), and the columns that hold any NULL."""

    table: str
    columns: list[str]
    nulls: set[str]


def parquet_extremes(con: Any, files: list[str], view: str, columns: list[str]
                     ) -> Extremes | None:
    """``columns`` (of the DuckDB relation ``view`` reading ``files``) from the footers
    alone; None when a row group lacks a column's statistics, or they cannot be read as the
    column's type. The values stay on the backend: neither fetched nor bound as Python
    objects, which imports pandas (a quarter of a second)."""
    from tiers import table_name

    types = {name: kind for name, kind, *_ in
             con.raw_sql(f"DESCRIBE SELECT * FROM {quote(view)}").fetchall()}
    if not columns or any(c not in types for c in columns):
        return None
    parts = ["count(DISTINCT (file_name, row_group_id)) AS groups"]
    for i, column in enumerate(columns):
        kind = types[column]
        this = f"path_in_schema = {literal(column)}"
        low, high = (f"TRY_CAST(stats_{e}_value AS {kind})" for e in ("min", "max"))
        parts += [
            f"min({low}) FILTER (WHERE {this}) AS low_{i}",
            f"max({high}) FILTER (WHERE {this}) AS high_{i}",
            f"coalesce(sum(stats_null_count) FILTER (WHERE {this}), 0) > 0 AS nulls_{i}",
            f"count(*) FILTER (WHERE {this}) AS groups_{i}",
            # a row group without bounds is known only when all its values are NULL; INT96
            # (legacy timestamps) has no defined order
            f"count(*) FILTER (WHERE {this} AND (type = 'INT96' OR stats_null_count IS NULL "
            f"OR (({low}) IS NULL OR ({high}) IS NULL) AND stats_null_count < "
            f"row_group_num_rows)) AS unknown_{i}",
        ]
    listed = ", ".join(literal(f) for f in files)
    name = table_name("extremes")
    checks = ["groups"] + [f"{k}_{i}" for i in range(len(columns))
                           for k in ("nulls", "groups", "unknown")]
    # bounds follow each type's own order only in files that say so (parquet-format's
    # ColumnOrder); older writers compared decimals and text by signed bytes
    unordered = (f"SELECT count(*) FROM parquet_file_metadata([{listed}]) WHERE "
                 "coalesce(len(column_orders), 0) = 0 OR len(list_filter(column_orders, "
                 "o -> o NOT LIKE '%TypeDefinedOrder%')) > 0")
    try:
        if con.raw_sql(unordered).fetchone()[0]:
            return None
        con.raw_sql(f"CREATE TEMP TABLE {quote(name)} AS SELECT {', '.join(parts)} "
                    f"FROM parquet_metadata([{listed}])")
        row = con.raw_sql(f"SELECT {', '.join(checks)} FROM {quote(name)}").fetchone()
    except Exception:  # footers this DuckDB cannot read: the rows are checked instead
        return None
    groups, values = row[0], row[1:]
    nulls = set()
    for i, column in enumerate(columns):
        has_nulls, seen, unknown = values[3 * i:3 * i + 3]
        if seen != groups or unknown:
            return None
        if has_nulls:
            nulls.add(column)
    return Extremes(name, list(columns), nulls)


def probe_rows(con: Any, raw: ir.Table, extremes: Extremes) -> ir.Table:
    """Rows shaped like ``raw``, in a temporary table of the DuckDB backend ``con``: one of
    every column's least values, one of the greatest, and one per column that holds NULLs with
    that column NULL. Columns without statistics are NULL throughout; the caller sees to it that
    none of them can reject a row."""
    from tiers import table_name

    names = raw.schema().names
    index = {c: i for i, c in enumerate(extremes.columns)}

    def row(end: str, null: str | None = None) -> str:
        values = []
        for n in names:
            if n == "_tiers_file":
                values.append("0")
            elif n == "_tiers_line":
                values.append("1")
            elif n in index and n != null:
                values.append(f"{end}_{index[n]}")
            else:
                values.append("NULL")
        return f"SELECT {', '.join(values)} FROM {quote(extremes.table)}"

    selects = [row("low"), row("high")] + [row("low", c) for c in extremes.columns
                                           if c in extremes.nulls]
    name = table_name("probe")
    table = con.create_table(name, schema=raw.schema(), temp=True)
    con.raw_sql(f"INSERT INTO {quote(name)} {' UNION ALL '.join(selects)}")
    return table
