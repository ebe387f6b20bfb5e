"""The Ibis backends the engine runs on: embedded DuckDB by default, PySpark when a user
outgrows one machine."""

from __future__ import annotations

from typing import Any

from tiers.core.errors import UsageError


def connect(engine: str = "duckdb") -> Any:
    """An Ibis backend for ``engine``."""
    if engine == "duckdb":
        from tiers.engine.backends.duckdb import connect_duckdb

        return connect_duckdb()
    if engine == "pyspark":
        from tiers.engine.backends.spark import connect_spark

        return connect_spark()
    raise UsageError(f"unknown engine {engine!r}; use duckdb or pyspark")
