"""tiers: a customer-tiering rules engine and plugin framework.

The public API, for rulesets run from Python and for plugins (the built-in ones use nothing
else): ``hookimpl``; the component interfaces (:class:`Source`, :class:`Policy`,
:class:`Action` with :class:`ActionConfig`, :class:`Intent`, :class:`Outcome`,
:class:`PlanInput`, :class:`ApplyContext`); the helpers components need from the engine
(``read_parquet``, ``widen``, ``to_arrow``, ``compile_sql``, ``table_name``, ``is_spark``,
``in_window``, ``compile_expression``, ``parse_expression``), from the templates
(``template_environment``, ``render_template``, ``template_problems``) and for files
(``write_table``); ``load_ruleset()`` and ``run()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError, PluginError, Problem, RulesetError, TiersError
from tiers.core.hookspecs import hookimpl
from tiers.core.version import __version__
from tiers.engine.lazy_compilers import install as _install_lazy_compilers
from tiers.engine.type_names import install as _install_type_names
from tiers.moved import install as _install_moved

_install_moved()
_install_lazy_compilers()
_install_type_names()

if TYPE_CHECKING:
    from tiers.actions.templates import TemplateError
    from tiers.actions.templates import environment as template_environment
    from tiers.actions.templates import render as render_template
    from tiers.actions.templates import syntax_problems as template_problems
    from tiers.core.action import (
        Action,
        ActionConfig,
        ActionError,
        ApplyContext,
        Intent,
        Outcome,
        PlanInput,
        When,
    )
    from tiers.core.expressions import ExpressionError, parse_expression
    from tiers.core.files import write_table
    from tiers.core.interfaces import ComponentConfig, Context, Policy, Source
    from tiers.core.metrics import MetricSpec
    from tiers.core.windows import Window
    from tiers.engine.backends.spark import is_spark
    from tiers.engine.expressions import compile_expression
    from tiers.engine.fetch import to_arrow
    from tiers.engine.metrics import in_window
    from tiers.engine.readers import read_parquet, widen
    from tiers.engine.sqlcache import compile_sql
    from tiers.engine.stage import stage_name as table_name

# Imported on first use (PEP 562): pydantic models and Ibis cost start-up time that
# `tiers --help` and plugins that never touch them should not pay.
# name -> (module, attribute in it)
_LAZY: dict[str, tuple[str, str]] = {
    "Action": ("tiers.core.action", "Action"),
    "ActionConfig": ("tiers.core.action", "ActionConfig"),
    "ActionError": ("tiers.core.action", "ActionError"),
    "ApplyContext": ("tiers.core.action", "ApplyContext"),
    "Intent": ("tiers.core.action", "Intent"),
    "Outcome": ("tiers.core.action", "Outcome"),
    "PlanInput": ("tiers.core.action", "PlanInput"),
    "When": ("tiers.core.action", "When"),
    "ComponentConfig": ("tiers.core.interfaces", "ComponentConfig"),
    "Context": ("tiers.core.interfaces", "Context"),
    "Policy": ("tiers.core.interfaces", "Policy"),
    "Source": ("tiers.core.interfaces", "Source"),
    "MetricSpec": ("tiers.core.metrics", "MetricSpec"),
    "Window": ("tiers.core.windows", "Window"),
    "ExpressionError": ("tiers.core.expressions", "ExpressionError"),
    "parse_expression": ("tiers.core.expressions", "parse_expression"),
    "write_table": ("tiers.core.files", "write_table"),
    "compile_expression": ("tiers.engine.expressions", "compile_expression"),
    "in_window": ("tiers.engine.metrics", "in_window"),
    "is_spark": ("tiers.engine.backends.spark", "is_spark"),
    "read_parquet": ("tiers.engine.readers", "read_parquet"),
    "widen": ("tiers.engine.readers", "widen"),
    "to_arrow": ("tiers.engine.fetch", "to_arrow"),
    "compile_sql": ("tiers.engine.sqlcache", "compile_sql"),
    "table_name": ("tiers.engine.stage", "stage_name"),
    "spark_frame": ("tiers.engine.fetch", "spark_frame"),
    "TemplateError": ("tiers.actions.templates", "TemplateError"),
    "template_environment": ("tiers.actions.templates", "environment"),
    "render_template": ("tiers.actions.templates", "render"),
    "template_problems": ("tiers.actions.templates", "syntax_problems"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tiers' has no attribute {name!r}")


__all__ = [
    "Action",
    "ActionConfig",
    "ActionError",
    "ApplyContext",
    "ComponentConfig",
    "Context",
    "DataError",
    "ExpressionError",
    "Intent",
    "MetricSpec",
    "Outcome",
    "PlanInput",
    "PluginError",
    "Policy",
    "Problem",
    "RulesetError",
    "Source",
    "TemplateError",
    "TiersError",
    "When",
    "Window",
    "__version__",
    "compile_expression",
    "compile_sql",
    "hookimpl",
    "in_window",
    "is_spark",
    "load_ruleset",
    "parse_expression",
    "read_parquet",
    "render_template",
    "run",
    "spark_frame",
    "table_name",
    "template_environment",
    "template_problems",
    "to_arrow",
    "widen",
    "write_table",
]


def load_ruleset(path: Any, **kwargs: Any) -> Any:
    """Load and validate a ruleset file; see :func:`tiers.ruleset.loader.load_ruleset`."""
    from tiers.ruleset.loader import load_ruleset as _load

    return _load(path, **kwargs)


def run(ruleset: Any, **kwargs: Any) -> Any:
    """Run a loaded ruleset: evaluate, and with a state store plan, record and apply; see
    :func:`tiers.pipeline.run`."""
    from tiers.pipeline import run as _run

    return _run(ruleset, **kwargs)
