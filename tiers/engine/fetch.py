"""Run a lazy Ibis table on its backend and return it as one Arrow table, the fast way.

Ibis' own ``to_pyarrow`` goes through pandas on both engines we support: DuckDB imports it to
convert types (about half a second of start-up on every run) and PySpark builds a pandas frame
first (slow, and nullable integers pass through float64). Both backends can hand Arrow over
directly; we then cast to the schema Ibis promised, so callers see the same types either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiers.core.sqltext import quote
from tiers.engine.backends.spark import is_spark
from tiers.engine.sqlcache import compile_sql

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa


def to_arrow(con: Any, expr: ir.Table) -> pa.Table:
    table = expr.as_table()
    schema = table.schema().to_pyarrow()
    if is_spark(con):
        arrow = _spark_arrow(con, table)
    elif getattr(con, "name", "") == "duckdb":
        name = stored_name(table)
        if name is not None:
            # a stage already named on the backend: read it, with nothing to compile
            arrow = con.raw_sql(f"SELECT * FROM {name}").fetch_arrow_table()
        else:
            # what Ibis' to_pyarrow runs, minus its pandas-importing type converter, with
            # the SQL compiled once per graph
            con._run_pre_execute_hooks(table)
            arrow = con.con.sql(compile_sql(con, table)).to_arrow_table()
    else:
        return con.to_pyarrow(table)
    if arrow.schema != schema:
        arrow = arrow.rename_columns(schema.names).cast(schema)
    return arrow


def stored_name(table: ir.Table) -> str | None:
    """The quoted name of a table the backend holds in its own default or temporary schema."""
    import ibis.expr.operations as ops

    op = table.op()
    if not isinstance(op, ops.DatabaseTable):
        return None
    namespace = op.namespace
    if namespace.catalog not in (None, "temp", "memory") or namespace.database not in (
            None, "main"):
        return None
    return quote(op.name)


def _spark_arrow(con: Any, table: ir.Table) -> pa.Table:
    from ibis.backends.pyspark.datatypes import PySparkType

    df = spark_frame(con, table)
    # Spark types a NULL literal or an empty ARRAY() as void, which Arrow cannot hold: cast
    # those columns to the type Ibis declared
    for field, dtype in zip(df.schema.fields, table.schema().types, strict=True):
        if _has_void(field.dataType):
            df = df.withColumn(field.name, df[field.name].cast(PySparkType.from_ibis(dtype)))
    return df.toArrow()


def _has_void(spark_type: Any) -> bool:
    from pyspark.sql.types import ArrayType, MapType, NullType, StructType

    if isinstance(spark_type, NullType):
        return True
    if isinstance(spark_type, ArrayType):
        return _has_void(spark_type.elementType)
    if isinstance(spark_type, MapType):
        return _has_void(spark_type.keyType) or _has_void(spark_type.valueType)
    if isinstance(spark_type, StructType):
        return any(_has_void(f.dataType) for f in spark_type.fields)
    return False


def spark_frame(con: Any, table: ir.Table) -> Any:
    """The Spark DataFrame of a lazy Ibis table."""
    con._run_pre_execute_hooks(table)  # registers in-memory tables the query uses
    return con.raw_sql(con.compile(table))
