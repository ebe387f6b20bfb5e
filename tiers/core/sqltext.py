"""Pieces of SQL text that DuckDB, SQLite and PostgreSQL read alike."""

from __future__ import annotations


def quote(name: str) -> str:
    """``name`` as a quoted identifier (a column or table name with any characters)."""
    return '"' + name.replace('"', '""') + '"'
