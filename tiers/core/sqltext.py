"""Pieces of SQL text that DuckDB, SQLite and PostgreSQL read alike."""

from __future__ import annotations


def quote(name: str) -> str:
    """``name`` as a quoted identifier (a column or table name with any characters)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a quoted SQL string (a path or a name with any characters)."""
    return "'" + text.replace("'", "''") + "'"
