"""Module paths of tiers 0.1 that moved in the package layout of 0.2, kept importable with a
DeprecationWarning so that plugins and scripts written against them keep working."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

# old module -> the modules its names now live in, searched in order
MOVED: dict[str, tuple[str, ...]] = {
    "tiers.core.actions": ("tiers.core.action", "tiers.actions.plan"),
    "tiers.core.apply": ("tiers.actions.apply", "tiers.core.action"),
    "tiers.core.engine": ("tiers.engine.evaluate", "tiers.engine.result", "tiers.pipeline",
                          "tiers.engine.backends", "tiers.core.files", "tiers.core.record"),
    "tiers.core.explain": ("tiers.whatif.explain",),
    "tiers.core.loader": ("tiers.ruleset.loader",),
    "tiers.core.pipeline": ("tiers.pipeline",),
    "tiers.core.ruleset": ("tiers.ruleset.models",),
    "tiers.core.state": ("tiers.core.record",),
    "tiers.core.templates": ("tiers.actions.templates",),
    "tiers.output": ("tiers.cli.render",),
}


class MovedModule(types.ModuleType):
    def __init__(self, name: str, targets: tuple[str, ...]):
        super().__init__(name, f"moved to {', '.join(targets)}")
        self._targets = targets

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        for target in self._targets:
            module = importlib.import_module(target)
            if hasattr(module, attr):
                warnings.warn(f"{self.__name__}.{attr} moved to {target}.{attr}",
                              DeprecationWarning, stacklevel=2)
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname in MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warnings.warn(f"{spec.name} moved to {', '.join(MOVED[spec.name])}",
                      DeprecationWarning, stacklevel=2)
        return MovedModule(spec.name, MOVED[spec.name])

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
