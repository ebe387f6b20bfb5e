"""Load a ruleset file: YAML, then the structure (stage one), then each component's own
Config and checks (stage two). Every problem found is reported, not just the first."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tiers.core.action import Action, runnable_problem
from tiers.core.errors import Problem, RulesetError, did_you_mean
from tiers.core.interfaces import Component, Context, Policy, Source
from tiers.core.locations import LineMap, Loc, render_path
from tiers.core.metrics import MetricSpec, UnknownMetric
from tiers.core.plugins import Registry, get_plugin_manager
from tiers.ruleset.checks import check_semantics
from tiers.ruleset.extends import load_ruleset_data
from tiers.ruleset.metrics import RulesetMetrics, available_metrics, default_metrics
from tiers.ruleset.models import Ruleset
from tiers.ruleset.paths import check_paths

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENGINES = ("duckdb", "pyspark")


@dataclass
class LoadedRuleset:
    """A validated ruleset with its components built and ready to run."""

    model: Ruleset
    file: Path
    lines: LineMap
    content_hash: str
    registry: Registry
    pm: Any
    sources: dict[str, Source] = field(default_factory=dict)
    policies: list[Policy] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    metric_specs: list[MetricSpec] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model.name


def _substitute_env(data: Any, loc: Loc, secret_locs: set[Loc], problems: list[Problem],
                    file: str, lines: LineMap) -> Any:
    if isinstance(data, dict):
        return {k: _substitute_env(v, (*loc, k), secret_locs, problems, file, lines)
                for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute_env(v, (*loc, i), secret_locs, problems, file, lines)
                for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data:
        secret_locs.add(loc)

        def repl(m: re.Match[str]) -> str:
            value = os.environ.get(m.group(1))
            if value is None:
                problems.append(Problem(
                    f"environment variable {m.group(1)} is not set", file=lines.file(loc, file),
                    line=lines.line(loc), path=render_path(loc),
                    hint=f"export {m.group(1)}=... before running tiers"))
                return ""
            return value

        return ENV_REF.sub(repl, data)
    return data


def _expected(msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        return "expected " + msg.removeprefix("Input should be ")
    return msg


def validation_problems(exc: ValidationError, prefix: Loc, file: str, lines: LineMap,
                        model: type[BaseModel], secret_locs: set[Loc]) -> list[Problem]:
    """Turn pydantic errors into located problems with an expected value and a fix."""
    problems = []
    for err in exc.errors():
        loc = (*prefix, *(p for p in err["loc"] if isinstance(p, (str, int))))
        kind = err["type"]
        field_name = str(err["loc"][-1]) if err["loc"] else ""
        parent = render_path(loc[:-1]) or "the top level"
        if kind == "missing":
            msg = f"missing required field `{field_name}`"
            hint = f"add `{field_name}:` under {parent}"
        elif kind == "extra_forbidden":
            allowed = list(model.model_fields) if len(err["loc"]) == 1 else []
            guess = did_you_mean(field_name, allowed)
            msg = f"unknown field `{field_name}`"
            hint = f"{guess}remove it or fix its spelling" + (
                f"; allowed here: {', '.join(allowed)}" if allowed else "")
        else:
            msg = _expected(err["msg"])
            if loc not in secret_locs and "input" in err and not isinstance(err["input"], dict):
                msg += f" (got {err['input']!r})"
            hint = f"change the value of `{render_path(loc)}`"
        problems.append(Problem(msg, file=lines.file(loc, file), line=lines.line(loc),
                                path=render_path(loc), hint=hint))
    return problems


KIND_OF = {"sources": "source", "policies": "policy", "actions": "action"}


def _component_class(kind: str, spec_type: str, loc: Loc, file: str, lines: LineMap,
                     registry: Registry) -> tuple[type[Component] | None, list[Problem]]:
    clash = registry.clash_message(kind, spec_type)
    if clash:
        return None, [Problem(clash, file=lines.file(loc, file), line=lines.line((*loc, "type")),
                              path=render_path((*loc, "type")),
                              hint="uninstall one of the distributions")]
    cls = registry.get(kind, spec_type)
    if cls is None:
        known = registry.names(kind)
        return None, [Problem(
            f"unknown {kind} type {spec_type!r}", file=lines.file((*loc, "type"), file),
            line=lines.line((*loc, "type")),
            path=render_path((*loc, "type")),
            hint=f"{did_you_mean(spec_type, known)}known {kind} types: {', '.join(known)}. "
                 "Run `tiers plugins` to see installed plugins, or install the one providing it")]
    return cls, []


def _raw_components(data: dict[str, Any]) -> list[tuple[str, Loc, dict[str, Any]]]:
    out: list[tuple[str, Loc, dict[str, Any]]] = []
    sources = data.get("sources")
    if isinstance(sources, dict):
        out += [("source", ("sources", k), v) for k, v in sources.items() if isinstance(v, dict)]
    for section in ("policies", "actions"):
        items = data.get(section)
        if isinstance(items, list):
            out += [(KIND_OF[section], (section, i), v) for i, v in enumerate(items)
                    if isinstance(v, dict)]
    return out


def _check_configs_only(data: dict[str, Any], file: str, lines: LineMap, registry: Registry,
                        secret_locs: set[Loc]) -> list[Problem]:
    """Stage two without a valid structure: still report unknown types and bad options."""
    problems: list[Problem] = []
    for kind, loc, raw in _raw_components(data):
        spec_type = raw.get("type")
        if not isinstance(spec_type, str):
            continue
        cls, found = _component_class(kind, spec_type, loc, file, lines, registry)
        problems += found
        if cls is not None:
            options = {k: v for k, v in raw.items() if k not in ("type", "id")}
            try:
                cls.Config.model_validate(options)
            except ValidationError as exc:
                problems += validation_problems(exc, loc, file, lines, cls.Config, secret_locs)
    return problems


def load_ruleset(path: str | Path, *, registry: Registry | None = None, pm: Any = None,
                 check_data: bool = True) -> LoadedRuleset:
    """Validate ``path`` and build its components; raises :class:`RulesetError` with all
    problems found."""
    file = Path(path)
    data, lines, files = load_ruleset_data(file)
    fname = str(file)
    if not isinstance(data, dict):
        raise RulesetError([Problem(
            "a ruleset must be a YAML mapping (name:, sources:, tiers:, policies: ...)",
            file=fname, line=1, hint="see docs/getting-started.md for a complete example")])
    if registry is None:
        pm, registry = get_plugin_manager()

    problems: list[Problem] = []
    secret_locs: set[Loc] = set()
    data = _substitute_env(data, (), secret_locs, problems, fname, lines)
    try:
        model = Ruleset.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc, (), fname, lines, Ruleset, secret_locs)
        problems += _check_configs_only(data, fname, lines, registry, secret_locs)
        raise RulesetError(_sorted(problems)) from None
    if problems:
        # unset variables would only cause follow-on errors (a path of "" not found...)
        raise RulesetError(_sorted(problems))
    problems += check_paths(data, fname, lines)

    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    content_hash = digest.hexdigest()
    loaded = LoadedRuleset(model, file, lines, content_hash, registry, pm)
    problems += _check_structure(model, fname, lines)

    catalog = RulesetMetrics(model)
    built: list[tuple[str, Loc, Component]] = []
    seen_ids: dict[str, Loc] = {}
    specs = [("source", ("sources", role), s) for role, s in model.sources.items()]
    specs += [("policy", ("policies", i), s) for i, s in enumerate(model.policies)]
    specs += [("action", ("actions", i), s) for i, s in enumerate(model.actions)]
    for kind, loc, spec in specs:
        cls, found = _component_class(kind, spec.type, loc, fname, lines, registry)
        problems += found
        if cls is None:
            continue
        why = runnable_problem(cls) if kind == "action" else None
        if why is not None:
            problems.append(Problem(
                f"action type {spec.type!r} cannot be run: {why}",
                file=lines.file((*loc, "type"), fname), line=lines.line((*loc, "type")),
                path=render_path((*loc, "type")),
                hint="update the plugin to the action contract in docs/plugins/reference.md "
                     "(plan(inp) -> intents, apply(intents, ctx) -> outcomes), or remove "
                     "this action"))
            continue
        try:
            config = cls.Config.model_validate(spec.options)
        except ValidationError as exc:
            problems += validation_problems(exc, loc, fname, lines, cls.Config, secret_locs)
            continue
        cid = str(loc[1]) if kind == "source" else (spec.id or spec.type)
        if kind != "source":
            if cid in seen_ids:
                problems.append(Problem(
                    f"duplicate id {cid!r} (also at {render_path(seen_ids[cid])})",
                    file=lines.file(loc, fname),
                    line=lines.line(loc), path=render_path(loc),
                    hint="give each policy and action a distinct `id:`"))
            seen_ids[cid] = loc
        context = Context(model, file, loc, lines, component_id=cid, pm=pm, catalog=catalog)
        component = cls(config, context)
        try:
            problems += component.check() if (check_data or kind != "source") else []
        except Exception as exc:  # a plugin's check must not hide the other problems
            problems.append(context.problem(f"{kind} check failed: {exc}"))
        built.append((kind, loc, component))

    specs_seen: list[MetricSpec] = list(default_metrics(model))
    found, wanted_by_tiers = check_semantics(model, fname, lines)
    problems += found
    specs_seen += [s for s in wanted_by_tiers if s not in specs_seen]
    for kind, loc, component in built:
        if kind == "source":
            loaded.sources[str(loc[1])] = component  # type: ignore[assignment]
        elif kind == "policy":
            assert isinstance(component, Policy)
            try:
                wanted = component.metrics()
            except UnknownMetric as exc:
                problems.append(component.context.problem(
                    f"unknown metric {exc.args[0]!r}", "metric",
                    hint=f"{did_you_mean(exc.args[0], available_metrics(model))}available: "
                         f"{', '.join(available_metrics(model))}; or declare it under `metrics:`"))
                wanted = []
            specs_seen += [s for s in wanted if s not in specs_seen]
            loaded.policies.append(component)
        else:
            loaded.actions.append(component)  # type: ignore[arg-type]
    loaded.metric_specs = specs_seen
    if problems:
        raise RulesetError(_sorted(problems))
    return loaded


def _check_structure(model: Ruleset, file: str, lines: LineMap) -> list[Problem]:
    problems = []

    def at(loc: Loc, msg: str, hint: str) -> None:
        problems.append(Problem(msg, file=lines.file(loc, file), line=lines.line(loc),
                                path=render_path(loc), hint=hint))

    seen: set[str] = set()
    for i, tier in enumerate(model.tiers):
        if tier.id in seen:
            at(("tiers", i, "id"), f"tier id {tier.id!r} is defined twice",
               "each tier needs a distinct id")
        seen.add(tier.id)
    if model.engine not in ENGINES:
        at(("engine",), f"unknown engine {model.engine!r}",
           f"{did_you_mean(model.engine, list(ENGINES))}use one of: {', '.join(ENGINES)}")
    for i, metric in enumerate(model.metrics):
        if metric.table not in model.sources:
            at(("metrics", i, "table"), f"metric {metric.id!r} reads table {metric.table!r}, "
               "which no source provides",
               f"{did_you_mean(metric.table, list(model.sources))}add a source named "
               f"`{metric.table}` under `sources:`")
    return problems


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file or "", p.line or 0))
