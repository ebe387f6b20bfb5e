"""Ibis' package of SQL compilers, imported one compiler at a time.

``ibis.backends.sql.compilers`` imports the compiler of every backend Ibis supports (twenty),
and every Ibis backend reaches its own through that package, so connecting to DuckDB paid for
Athena, BigQuery, Trino and the rest: about 50 ms of every command's start-up. This finder
gives the package a module whose attributes import their compiler when first read; the
compiler modules themselves are Ibis' own, unchanged. Installed by ``import tiers`` without
importing Ibis.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

PACKAGE = "ibis.backends.sql.compilers"
# ibis 12's package __all__; a compiler named otherwise is still found by __getattr__
NAMES = (
    "AthenaCompiler", "BigQueryCompiler", "ClickHouseCompiler", "DataFusionCompiler",
    "DatabricksCompiler", "DruidCompiler", "DuckDBCompiler", "ExasolCompiler", "FlinkCompiler",
    "ImpalaCompiler", "MSSQLCompiler", "MaterializeCompiler", "MySQLCompiler",
    "OracleCompiler", "PostgresCompiler", "PySparkCompiler", "RisingWaveCompiler",
    "SQLiteCompiler", "SnowflakeCompiler", "TrinoCompiler",
)


def _attribute(module: types.ModuleType, name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    # "DuckDBCompiler" lives in .duckdb; a backend also reads submodules (sc.duckdb.compiler)
    sub = name[:-len("Compiler")].lower() if name.endswith("Compiler") else name
    try:
        found = importlib.import_module(f"{PACKAGE}.{sub}")
    except ModuleNotFoundError:
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None
    value = getattr(found, name) if sub != name else found
    setattr(module, name, value)
    return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != PACKAGE:
            return None
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None or real.submodule_search_locations is None:
            return None  # not the package this was written for: import it as it is
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        spec.submodule_search_locations = list(real.submodule_search_locations)
        spec.origin = real.origin
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__all__ = list(NAMES)  # type: ignore[attr-defined]
        module.__getattr__ = lambda name: _attribute(module, name)  # type: ignore[attr-defined]


def install() -> None:
    if PACKAGE in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
