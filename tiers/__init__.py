"""tiers: a customer-tiering rules engine and plugin framework.

Public API: ``hookimpl``, the component interfaces, ``load_ruleset()`` and ``run()``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from tiers.core.errors import DataError, PluginError, Problem, RulesetError, TiersError
from tiers.core.hookspecs import hookimpl

# Imported on first use (PEP 562): pydantic models cost start-up time that `tiers --help`
# and plugins that never touch them should not pay.
_LAZY = {
    "Action": "tiers.core.interfaces",
    "ComponentConfig": "tiers.core.interfaces",
    "Context": "tiers.core.interfaces",
    "Policy": "tiers.core.interfaces",
    "Source": "tiers.core.interfaces",
    "Window": "tiers.core.windows",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tiers' has no attribute {name!r}")

__all__ = [
    "Action",
    "ComponentConfig",
    "Context",
    "DataError",
    "PluginError",
    "Policy",
    "Problem",
    "RulesetError",
    "Source",
    "TiersError",
    "Window",
    "__version__",
    "hookimpl",
    "load_ruleset",
    "run",
]


def load_ruleset(path: Any, **kwargs: Any) -> Any:
    """Load and validate a ruleset file; see :func:`tiers.core.loader.load_ruleset`."""
    from tiers.core.loader import load_ruleset as _load

    return _load(path, **kwargs)


def run(ruleset: Any, **kwargs: Any) -> Any:
    """Evaluate a ruleset; see :func:`tiers.core.engine.run`."""
    from tiers.core.engine import run as _run

    return _run(ruleset, **kwargs)
