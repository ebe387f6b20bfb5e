"""Plugin manager factory and the component registries the hooks fill.

Built-in plugins register first, then entry points of the ``tiers`` group in name order, so
results never depend on installation order. A broken outside plugin is reported and skipped;
``TIERS_STRICT_PLUGINS=1`` (or ``strict=True``) makes it fatal.

A plugin is "broken" when it fails to import, implements a hook tiers does not have or asks a
hook for an argument the hook does not pass, registers something that is not a component, or
needs another tiers version: either its distribution requires ``tiers`` with a version range
that excludes this one, or its module sets ``tiers_requires = ">=0.1,<0.2"``.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from tiers.core import hookspecs
from tiers.core.errors import PluginError, did_you_mean

KINDS = ("source", "policy", "action")
#: module attribute a plugin may set to the tiers versions it supports, e.g. ">=0.1,<0.2"
REQUIRES_ATTRIBUTE = "tiers_requires"


@dataclass
class PluginInfo:
    name: str
    version: str
    distribution: str | None
    builtin: bool
    components: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    tiers_requires: str | None = None

    @property
    def origin(self) -> str:
        """Where the plugin comes from, for messages: a distribution, built-in or local."""
        if self.builtin:
            return "built-in"
        if self.distribution:
            return f"{self.distribution} {self.version}"
        return "local"


@dataclass
class Registered:
    cls: type
    plugin: str
    distribution: str | None
    origin: str = ""


@dataclass
class Registry:
    """Component classes by kind and ``type:`` name, plus what went wrong while loading."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    components: dict[str, dict[str, Registered]] = field(
        default_factory=lambda: {k: {} for k in KINDS})
    clashes: dict[tuple[str, str], list[Registered]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def get(self, kind: str, name: str) -> type | None:
        entry = self.components[kind].get(name)
        return entry.cls if entry else None

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def add(self, kind: str, cls: type, plugin: PluginInfo) -> None:
        check_component(kind, cls)
        name = cls.name  # type: ignore[attr-defined]
        entry = Registered(cls, plugin.name, plugin.distribution, plugin.origin)
        existing = self.components[kind].get(name)
        if existing is not None and existing.cls is not cls:
            # Neither wins: which one would depend on load order, so rulesets using the
            # name fail until the clash is resolved (see the loader).
            self.clashes.setdefault((kind, name), [existing]).append(entry)
            return
        self.components[kind][name] = entry
        if name not in plugin.components[kind]:
            plugin.components[kind].append(name)

    def clash_message(self, kind: str, name: str) -> str | None:
        entries = self.clashes.get((kind, name))
        if not entries:
            return None
        who = " and ".join(
            f"plugin {e.plugin!r} ({e.origin or e.distribution or 'built-in'})" for e in entries)
        return f"{kind} type {name!r} is registered by more than one plugin: {who}"


BUILTIN_PLUGINS: tuple[str, ...] = (
    "tiers.plugins.sources.csv",
    "tiers.plugins.sources.parquet",
    "tiers.plugins.sources.sql",
    "tiers.plugins.sources.api",
    "tiers.plugins.policies.spend",
    "tiers.plugins.policies.frequency",
    "tiers.plugins.policies.expression",
    "tiers.plugins.policies.bands",
    "tiers.commands.diff",
    "tiers.commands.backtest",
    "tiers.commands.explain",
    "tiers.plugins.policies.points",
    "tiers.plugins.policies.rfm",
    "tiers.plugins.policies.lifecycle",
    "tiers.plugins.policies.score",
    "tiers.commands.new_plugin",
    "tiers.commands.schema",
    "tiers.commands.report",
    "tiers.plugins.actions.coupon",
    "tiers.plugins.actions.dedicated_rep",
    "tiers.plugins.actions.email",
    "tiers.plugins.actions.webhook",
    "tiers.plugins.actions.export",
    "tiers.commands.runs",
    "tiers.commands.history",
    "tiers.commands.serve",
)


def _strict_from_env() -> bool:
    return os.environ.get("TIERS_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def check_component(kind: str, cls: Any) -> None:
    """Refuse anything a ruleset could not use as a ``kind`` component, saying why."""
    from pydantic import BaseModel

    from tiers.core.interfaces import Action, Policy, Source

    base = {"source": Source, "policy": Policy, "action": Action}[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"it registered {cls!r} as a {kind}, but that is not a subclass of "
                          f"tiers.{base.__name__}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"it registered {kind} class {cls.__name__} without a `name` "
                          "(the `type:` rulesets use); add e.g. `name = \"my_type\"`")
    config = getattr(cls, "Config", None)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        raise PluginError(f"{kind} {name!r} has a `Config` that is not a pydantic model; "
                          "subclass tiers.ComponentConfig")


def version_problem(required: str, who: str) -> str | None:
    """Why a plugin needing tiers ``required`` cannot run on this tiers, or None if it can."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from tiers import __version__

    try:
        spec = SpecifierSet(required)
    except InvalidSpecifier:
        return (f"{who} declares {REQUIRES_ATTRIBUTE} = {required!r}, which is not a version "
                "range; write it like \">=0.1,<0.2\"")
    if spec.contains(__version__, prereleases=True):
        return None
    return (f"{who} needs tiers {required} but tiers {__version__} is installed; install a "
            "release of the plugin that supports this tiers, or a tiers it supports")


def distribution_requirement(dist: md.Distribution | None) -> str | None:
    """The version range on ``tiers`` in a distribution's own dependencies, if any."""
    if dist is None:
        return None
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for line in dist.requires or ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != "tiers" or not str(req.specifier):
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        return str(req.specifier)
    return None


def import_failure(exc: BaseException) -> str:
    """``Type: message (at file:line)``, pointing at the deepest frame of the failure."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" (at {exc.filename}:{exc.lineno})"
    else:
        where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def hook_problems(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Hook implementations that do not match a hookspec: unknown names, unknown arguments."""
    problems = []
    known = sorted(n for n in dir(pm.hook) if not n.startswith("_"))
    for attr in dir(plugin):
        try:
            opts = pm.parse_hookimpl_opts(plugin, attr)
        except Exception:  # attribute access on odd objects may fail; not a hook then
            continue
        if opts is None:
            continue
        hook_name = opts.get("specname") or attr
        caller = getattr(pm.hook, hook_name, None)
        if caller is None or caller.spec is None:
            problems.append(
                f"{hook_name}() is not a tiers hook; {did_you_mean(hook_name, known)}"
                f"the hooks are: {', '.join(known)}")
            continue
        func = getattr(plugin, attr)
        params = [
            p.name for p in inspect.signature(func).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        unknown = [a for a in params if a not in caller.spec.argnames]
        if unknown:
            args = ", ".join(repr(a) for a in unknown)
            problems.append(
                f"{hook_name}({', '.join(params)}) asks for {args}, which the hook does not "
                f"pass; {hook_name} passes: {', '.join(caller.spec.argnames)}. Remove the "
                "argument or fix its spelling (a hook implementation may take any subset of "
                "the hook's arguments)")
    return problems


def get_plugin_manager(
    *,
    entry_points: bool = True,
    extra_plugins: Iterable[Any] = (),
    strict: bool | None = None,
    builtins: Iterable[str] = BUILTIN_PLUGINS,
) -> tuple[pluggy.PluginManager, Registry]:
    """Build a fresh plugin manager and its filled registry.

    :param entry_points: load outside plugins from the ``tiers`` entry-point group.
    :param builtins: the built-in plugin modules to load (all by default; ``tiers --help``
        needs only those that add commands).
    :param extra_plugins: plugin objects or modules to register after the others (tests).
    :param strict: make a broken plugin fatal; defaults to ``TIERS_STRICT_PLUGINS``.
    """
    strict = _strict_from_env() if strict is None else strict
    pm = pluggy.PluginManager("tiers")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    from tiers import __version__

    for modname in builtins:
        module = importlib.import_module(modname)
        pm.register(module, name=modname)
        registry.plugins[modname] = PluginInfo(modname, __version__, None, True)

    candidates: list[tuple[str, Callable[[], Any], PluginInfo, str | None]] = []
    if entry_points:
        for ep in sorted(md.entry_points(group="tiers"), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else "unknown"
            info = PluginInfo(ep.name, version, dist, False)
            candidates.append((ep.name, ep.load, info, distribution_requirement(ep.dist)))
    for i, obj in enumerate(extra_plugins):
        name = getattr(obj, "__name__", None) or f"{type(obj).__name__}-{i}"
        info = PluginInfo(name, getattr(obj, "__version__", "local"), None, False)
        candidates.append((name, lambda obj=obj: obj, info, None))

    def skip(message: str, exc: BaseException | None = None) -> None:
        if strict:
            raise PluginError(message) from exc
        registry.failures.append(message)
        _warn(message + " - skipped (set TIERS_STRICT_PLUGINS=1 to make this fatal)")

    for name, load, info, dist_requires in candidates:
        who = f"plugin {name!r} ({info.origin})"
        # Check the distribution's range before importing: an incompatible plugin may well
        # fail to import, and the version is the message that helps.
        problem = version_problem(dist_requires, who) if dist_requires else None
        if problem:
            skip(problem)
            continue
        try:
            plugin = load()
        except Exception as exc:  # a broken plugin must not take the others down
            skip(f"{who} failed to import: {import_failure(exc)}", exc)
            continue
        declared = getattr(plugin, REQUIRES_ATTRIBUTE, None)
        info.tiers_requires = declared or dist_requires
        problem = version_problem(str(declared), who) if declared else None
        problems = [problem] if problem else hook_problems(pm, plugin)
        if problems:
            skip(f"{who} could not be loaded: " + "; ".join(problems))
            continue
        try:
            pm.register(plugin, name=name)
            pm.check_pending()
        except Exception as exc:
            if pm.has_plugin(name):
                pm.unregister(name=name)
            skip(f"{who} could not be loaded: {exc}", exc)
            continue
        registry.plugins[name] = info

    _fill(pm, registry, strict)
    return pm, registry


def _fill(pm: pluggy.PluginManager, registry: Registry, strict: bool) -> None:
    for kind, hook in (("source", "register_sources"), ("policy", "register_policies"),
                       ("action", "register_actions")):
        caller = getattr(pm.hook, hook)
        for impl in caller.get_hookimpls():
            info = registry.plugins.get(impl.plugin_name)
            if info is None:
                continue

            def register(cls: type, kind: str = kind, info: PluginInfo = info) -> None:
                registry.add(kind, cls, info)

            try:
                impl.function(**{a: register for a in impl.argnames if a == "register"})
            except Exception as exc:
                detail = exc.render() if isinstance(exc, PluginError) else import_failure(exc)
                message = f"plugin {info.name!r} ({info.origin}) failed in {hook}: {detail}"
                if strict or info.builtin:
                    raise PluginError(message) from exc
                registry.failures.append(message)
                _warn(message + " - skipped")
    for (kind, name) in registry.clashes:
        message = registry.clash_message(kind, name)
        if strict:
            raise PluginError(f"{message}; uninstall one of them")
        _warn(f"{message}; rulesets using {name!r} fail until one of them is uninstalled "
              "(pip uninstall <distribution>)")
