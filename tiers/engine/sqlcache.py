"""Compiled SQL kept between runs, so an unchanged ruleset over data of the same shape skips
Ibis' compilation, the largest fixed cost of a small run (docs/performance.md).

The key is a digest of the expression graph itself, pickled whole (every table name and
schema, literal, function and option in it), with the versions of tiers, Ibis, sqlglot and
the backend: anything that could change the SQL changes the key, so an entry is never stale,
only unused. Graphs that differ only in what they read (another day's as-of, another
customer) get entries of their own; the oldest are removed beyond :data:`MAX_ENTRIES`.

In-memory tables (manual pins, rows a source or an action hands over as Arrow) are keyed by
their place in the graph and their schema, not by their data, nor by the name Ibis draws at
random for each: the SQL only names them, so it is kept with a placeholder for each name and
read back with this run's names.

Where: ``$TIERS_CACHE_DIR``, else ``$XDG_CACHE_HOME/tiers/sql``, else ``~/.cache/tiers/sql``;
``TIERS_CACHE_DIR=none`` keeps nothing. The entries are private to the user (0600 in a 0700
folder): the SQL holds the ruleset's literals, such as the customer an explain is about. A
cache that cannot be read or written is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

MAX_ENTRIES = 400
_SUFFIX = ".sql"


def compile_sql(con: Any, expr: ir.Expr) -> str:
    """``con.compile(expr)``, read from the cache when the same graph was compiled before."""
    folder = cache_dir()
    if folder is None:
        return con.compile(expr)
    names = _memtable_names(expr)
    key = _key(con, expr, names)
    if key is None:
        return con.compile(expr)
    path = folder / f"{key}{_SUFFIX}"
    try:
        sql = path.read_text(encoding="utf-8")
        if sql:
            for i, name in enumerate(names):
                sql = sql.replace(_placeholder(i), name)
            return sql
    except (OSError, UnicodeDecodeError):
        pass
    sql = con.compile(expr)
    kept = sql
    for i, name in enumerate(names):
        kept = kept.replace(name, _placeholder(i))
    _store(folder, path, kept)
    return sql


def _memtable_names(expr: ir.Expr) -> list[str]:
    """The names of the graph's in-memory tables, in the graph's own order."""
    import ibis.expr.operations as ops

    names: list[str] = []
    for op in expr.op().find(ops.InMemoryTable):
        if op.name not in names:
            names.append(op.name)
    return names


def _placeholder(index: int) -> str:
    # U+001F never appears in an Ibis table name nor, unescaped, in compiled SQL
    return f"\x1ftiers-memtable-{index}\x1f"


def cache_dir() -> Path | None:
    setting = os.environ.get("TIERS_CACHE_DIR")
    if setting is not None:
        return None if setting.strip().lower() in ("", "none", "off") else Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tiers" / "sql"


# the types nearly every object of a graph has, and that pickle alike in every process
_PLAIN = frozenset({str, int, float, bool, bytes, tuple, list, dict, type(None)})


class _KeyPickler(pickle.Pickler):
    """Pickles an expression graph for its digest only (it is never read back): backends,
    classes and functions, which may not pickle, stand in by name, and sets of names by
    their sorted names."""

    def __init__(self, file: io.BytesIO, backend_class: type, memtables: list[str]) -> None:
        super().__init__(file, protocol=5)
        self.backend_class = backend_class
        self.memtables = memtables
        import ibis.expr.operations as ops

        self.memtable_class = ops.InMemoryTable

    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN:  # settled first: nearly every object is one
            return None
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
            return f"{getattr(obj, '__module__', '')}.{obj.__qualname__}"
        if isinstance(obj, self.backend_class):
            return f"backend:{obj.name}"
        if kind is self.memtable_class and obj.name in self.memtables:
            return ("memtable", self.memtables.index(obj.name),
                    tuple((n, str(t)) for n, t in obj.schema.items()))
        if kind in (set, frozenset) and all(isinstance(x, str) for x in obj):
            # a set's order follows string hashing, which differs between processes
            return ("set", *sorted(obj))
        return None


def _key(con: Any, expr: ir.Expr, memtables: list[str]) -> str | None:
    from ibis.backends import BaseBackend

    buffer = io.BytesIO()
    try:
        _KeyPickler(buffer, BaseBackend, memtables).dump(expr.op())
    except Exception:  # an object that neither pickles nor has a name: compile it every time
        return None
    digest = hashlib.sha256(_versions(getattr(con, "name", "")).encode())
    digest.update(buffer.getvalue())
    return digest.hexdigest()


@cache
def _versions(backend: str) -> str:
    from importlib.metadata import version

    names = ["tiers", "ibis-framework", "sqlglot", backend]
    found = []
    for name in names:
        try:
            found.append(f"{name}={version(name)}")
        except Exception:
            found.append(f"{name}=?")
    return " ".join(found)


def _store(folder: Path, path: Path, sql: str) -> None:
    name = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=folder)  # 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(sql)
        os.replace(name, path)
        name = None
        _prune(folder)
    except OSError:
        return
    finally:
        if name is not None and os.path.exists(name):
            os.unlink(name)


def _prune(folder: Path) -> None:
    entries = [e for e in os.scandir(folder) if e.name.endswith(_SUFFIX)]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for entry in entries[:len(entries) - MAX_ENTRIES]:
        try:
            os.unlink(entry.path)
        except OSError:
            continue
