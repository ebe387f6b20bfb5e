"""The DuckDB engine: in memory by default, tuned from the environment for big data.

DuckDB scans Parquet and CSV files where they lie and spills to disk when an aggregate outgrows
its memory limit, so one machine goes a long way. Settings (all optional):

- ``TIERS_DUCKDB_DATABASE``: a database file instead of memory (keeps tables between runs;
  its spill files go beside it);
- ``TIERS_DUCKDB_MEMORY_LIMIT``: e.g. ``8GB`` (DuckDB's default is 80 % of RAM);
- ``TIERS_DUCKDB_TEMP_DIR``: where to spill (default ``.tmp`` in the working folder, or beside
  the database file);
- ``TIERS_DUCKDB_THREADS``: worker threads (default: every core).
"""

from __future__ import annotations

import os
from typing import Any

from tiers.core import exits
from tiers.core.errors import TiersError

ENV_CONFIG = {
    "TIERS_DUCKDB_MEMORY_LIMIT": "memory_limit",
    "TIERS_DUCKDB_TEMP_DIR": "temp_directory",
    "TIERS_DUCKDB_THREADS": "threads",
}


class DuckDBConfigError(TiersError):
    """A TIERS_DUCKDB_* setting DuckDB refused."""

    exit_code = exits.ENGINE


def connect_duckdb(environ: dict[str, str] | None = None) -> Any:
    import ibis

    env = os.environ if environ is None else environ
    database = env.get("TIERS_DUCKDB_DATABASE") or ":memory:"
    config = {key: env[name] for name, key in ENV_CONFIG.items() if env.get(name)}
    try:
        return ibis.duckdb.connect(database, **config)
    except Exception as exc:
        names = ", ".join(n for n in ENV_CONFIG if env.get(n)) or "TIERS_DUCKDB_DATABASE"
        raise DuckDBConfigError(
            f"DuckDB could not start with {names}: {exc}. Fix or unset the variable "
            "(e.g. TIERS_DUCKDB_MEMORY_LIMIT=8GB, TIERS_DUCKDB_THREADS=4)") from None
