"""Files read by the engine itself, the same way on every backend.

Sources call these instead of the backends' own readers so that DuckDB and Spark hand the
engine tables with the same types: the backends infer different integer widths (int64 on
DuckDB, int32 on Spark for the same CSV column).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir


def read_parquet(con: Any, paths: str | Sequence[str], *, table_name: str) -> ir.Table:
    """Register Parquet file(s) as ``table_name`` and return the table."""
    paths = paths if isinstance(paths, str) else list(paths)
    return widen(con.read_parquet(paths, table_name=table_name))


def widen(table: ir.Table) -> ir.Table:
    """Cast integers to int64 and floats to float64, so a column's type never depends on the
    backend's inference (a sum of int32 overflows sooner; joins on int32 vs int64 keys fail)."""
    casts: dict[str, Any] = {}
    for name, dtype in table.schema().items():
        if dtype.is_integer() and not dtype.is_boolean() and dtype.nbytes < 8:
            casts[name] = table[name].cast("int64")
        elif dtype.is_floating() and dtype.nbytes < 8:
            casts[name] = table[name].cast("float64")
    return table.mutate(**casts) if casts else table
