"""Plugin manager factory and the component registries the hooks fill.

Built-in plugins register first, then entry points of the ``tiers`` group in name order, so
results never depend on installation order. A broken outside plugin is reported and skipped;
``TIERS_STRICT_PLUGINS=1`` (or ``strict=True``) makes it fatal.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from tiers.core import hookspecs
from tiers.core.errors import PluginError

KINDS = ("source", "policy", "action")


@dataclass
class PluginInfo:
    name: str
    version: str
    distribution: str | None
    builtin: bool
    components: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})


@dataclass
class Registered:
    cls: type
    plugin: str
    distribution: str | None


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
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin.name!r} registered a {kind} without a `name`")
        entry = Registered(cls, plugin.name, plugin.distribution)
        existing = self.components[kind].get(name)
        if existing is not None and existing.cls is not cls:
            self.clashes.setdefault((kind, name), [existing]).append(entry)
            return
        self.components[kind][name] = entry
        plugin.components[kind].append(name)

    def clash_message(self, kind: str, name: str) -> str | None:
        entries = self.clashes.get((kind, name))
        if not entries:
            return None
        who = ", ".join(f"{e.plugin} ({e.distribution or 'built-in'})" for e in entries)
        return f"{kind} type {name!r} is registered by more than one plugin: {who}"


BUILTIN_PLUGINS: tuple[str, ...] = (
    "tiers.plugins.sources.csv",
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
)


def _strict_from_env() -> bool:
    return os.environ.get("TIERS_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def get_plugin_manager(
    *,
    entry_points: bool = True,
    extra_plugins: Iterable[Any] = (),
    strict: bool | None = None,
) -> tuple[pluggy.PluginManager, Registry]:
    """Build a fresh plugin manager and its filled registry.

    :param entry_points: load outside plugins from the ``tiers`` entry-point group.
    :param extra_plugins: plugin objects or modules to register after the others (tests).
    :param strict: make a broken plugin fatal; defaults to ``TIERS_STRICT_PLUGINS``.
    """
    strict = _strict_from_env() if strict is None else strict
    pm = pluggy.PluginManager("tiers")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    from tiers import __version__

    for modname in BUILTIN_PLUGINS:
        module = importlib.import_module(modname)
        pm.register(module, name=modname)
        registry.plugins[modname] = PluginInfo(modname, __version__, None, True)

    candidates: list[tuple[str, Callable[[], Any], str | None, str]] = []
    if entry_points:
        for ep in sorted(md.entry_points(group="tiers"), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else "unknown"
            candidates.append((ep.name, ep.load, dist, version))
    for i, obj in enumerate(extra_plugins):
        name = getattr(obj, "__name__", None) or f"{type(obj).__name__}-{i}"
        candidates.append((name, lambda obj=obj: obj, None, getattr(obj, "__version__", "local")))

    for name, load, dist, version in candidates:
        try:
            plugin = load()
            pm.register(plugin, name=name)
            pm.check_pending()
        except Exception as exc:  # a broken plugin must not take the others down
            if pm.has_plugin(name):
                pm.unregister(name=name)
            message = f"plugin {name!r} ({dist or 'local'}) could not be loaded: {exc}"
            if strict:
                raise PluginError(message) from exc
            registry.failures.append(message)
            _warn(message + " - skipped (set TIERS_STRICT_PLUGINS=1 to make this fatal)")
            continue
        registry.plugins[name] = PluginInfo(name, version, dist, False)

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
                message = f"plugin {info.name!r} failed in {hook}: {exc}"
                if strict or info.builtin:
                    raise PluginError(message) from exc
                registry.failures.append(message)
                _warn(message + " - skipped")
    for (kind, name) in registry.clashes:
        message = registry.clash_message(kind, name)
        if strict:
            raise PluginError(str(message))
        _warn(f"{message}; rulesets using it will fail until one is uninstalled")
