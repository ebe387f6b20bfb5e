"""Compile once: each stage of an evaluation is registered on the backend, so the next stage's
query refers to a small table node instead of the whole expression below it.

Ibis compiles an expression graph to SQL afresh for every query, and the cost follows the size
of the graph, not of the data. A DuckDB temporary table (or view, when recomputing is cheaper
than keeping a copy) or a Spark checkpoint ends the graph: later queries start from its name.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from tiers.engine.backends.spark import is_spark
from tiers.engine.sqlcache import compile_sql

if TYPE_CHECKING:
    import ibis.expr.types as ir

_names = itertools.count()


def stage_name(label: str) -> str:
    """A new name for a table or view a run creates on its backend (public as
    ``tiers.table_name``).

    The same in every run of a ruleset (a counter, no process id or random part), so the
    graphs that read the table, and their compiled SQL, are the same too
    (tiers.engine.sqlcache); one counter for every caller, so no two names meet."""
    return f"tiers_{next(_names)}_{label}"


def register(con: Any, expr: ir.Table, label: str, *, view: bool = False) -> ir.Table:
    """``expr`` computed once on ``con`` and named there; returns the table that refers to it.

    ``view``: on DuckDB, name the query instead of storing its rows (for cheap scans that a
    copy would only slow down, such as a typed Parquet file)."""
    name = stage_name(label)
    if is_spark(con):
        from tiers.engine.fetch import spark_frame

        spark_frame(con, expr).localCheckpoint(eager=True).createOrReplaceTempView(name)
        return con.table(name)
    if getattr(con, "name", "") == "duckdb":
        return duckdb_stage(con, name, expr, view=view)
    return expr.cache()


def duckdb_stage(con: Any, name: str, expr: ir.Table, *, view: bool = False) -> ir.Table:
    """``expr`` as a DuckDB temporary table (or view) named ``name``, compiled once.

    Ibis' ``create_table`` wraps the compiled query in an INSERT, and sqlglot deep-copies the
    whole syntax tree twice on the way (building the INSERT, then generating its text): on a
    source's parse graph that costs more than compiling it. ``compile`` generates the text
    without a copy, and one CREATE ... AS runs it."""
    con._run_pre_execute_hooks(expr)  # functions and in-memory tables it reads
    sql = compile_sql(con, expr)
    kind = "VIEW" if view else "TABLE"
    con.raw_sql(f'CREATE OR REPLACE TEMP {kind} "{name}" AS {sql}')
    return con.table(name)
