"""Ibis' type parser, answered from a table for the plain type names tiers writes.

``ibis.expr.datatypes.parse`` builds its whole grammar on every call, and keeps the result
per text: each distinct name costs 3-5 ms the first time, and a run writes eight or more
("int8", "string", "timestamp", "decimal(18, 2)"...), 25-40 ms of every command. This hook
gives the module a ``parse`` that returns the very objects Ibis' own would (the names and
their types are Ibis', checked by tests/test_type_names.py) and hands any other text, or a
call with default decimal parameters, to Ibis. Installed by ``import tiers`` without
importing Ibis; the module itself is Ibis' own, unchanged.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
import types
from typing import Any

MODULE = "ibis.expr.datatypes.parse"
DECIMAL = re.compile(r"decimal\((\d+), ?(\d+)\)")


def _plain() -> dict[str, Any]:
    import ibis.expr.datatypes as dt

    return {"boolean": dt.boolean, "int8": dt.int8, "int16": dt.int16, "int32": dt.int32,
            "int64": dt.int64, "float32": dt.float32, "float64": dt.float64,
            "string": dt.string, "date": dt.date, "timestamp": dt.Timestamp(),
            "binary": dt.binary, "array<string>": dt.Array(dt.string),
            "array<int64>": dt.Array(dt.int64)}


def _fast(original: Any) -> Any:
    known: dict[str, Any] = {}

    def parse(text: str, default_decimal_parameters: tuple[int | None, int | None] = (
            None, None)) -> Any:
        if default_decimal_parameters == (None, None):
            if not known:  # built on first use: the types module may still be loading now
                known.update(_plain())
            found = known.get(text)
            if found is not None:
                return found
            match = DECIMAL.fullmatch(text)
            if match:
                import ibis.expr.datatypes as dt

                return dt.Decimal(int(match[1]), int(match[2]))
        return original(text, default_decimal_parameters)

    parse.__wrapped__ = original  # type: ignore[attr-defined]
    parse.__doc__ = original.__doc__
    return parse


class _Loader(importlib.abc.Loader):
    def __init__(self, real: importlib.abc.Loader) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self.real.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self.real.exec_module(module)
        module.parse = _fast(module.parse)  # type: ignore[attr-defined]


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != MODULE:
            return None
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None or real.loader is None:
            return None
        real.loader = _Loader(real.loader)
        return real


def install() -> None:
    if MODULE in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
