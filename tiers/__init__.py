"""tiers: a customer-tiering rules engine and plugin framework.

Public API: ``hookimpl``, the component interfaces, ``load_ruleset()`` and ``run()``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from tiers.core.errors import DataError, PluginError, Problem, RulesetError, TiersError
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import Action, ComponentConfig, Context, Policy, Source
from tiers.core.windows import Window

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
