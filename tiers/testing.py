"""Test helpers for rulesets and plugins; also a pytest plugin (entry point ``pytest11``).

With tiers installed, every pytest run gets the ``tiers_runner`` fixture::

    import my_plugin
    from tiers.testing import assert_tiers

    def test_gold_for_big_spenders(tiers_runner):
        tiers_runner.register(my_plugin)
        result = tiers_runner.run(
            {"tiers": [{"id": "basic"}, {"id": "gold"}],
             "policies": [{"type": "spend", "thresholds": {"gold": 100}}]},
            orders=[{"customer_id": "a", "order_ts": "2026-01-05", "amount": 150}],
            as_of="2026-02-01",
        )
        assert_tiers(result, {"a": "gold"})

Each runner builds a fresh plugin manager with the built-in plugins, the ``memtable`` source
and the plugins you register; installed entry points are not loaded, so whatever else is
installed cannot leak into a test. Tables passed as keywords become ``memtable`` sources written
into the ruleset file, so problems are reported with a file and line like real ones.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from pydantic import Field

from tiers.core.errors import Problem, RulesetError
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig, Source

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pluggy
    import pyarrow as pa

    from tiers.core.plugins import Registry
    from tiers.engine.evaluate import Evaluation
    from tiers.engine.result import RunResult
    from tiers.ruleset.loader import LoadedRuleset

__all__ = [
    "MemtablePlugin",
    "MemtableSource",
    "RulesetRunner",
    "assert_tiers",
    "installed_component",
    "make_plugin_manager",
    "tiers_by_customer",
    "tiers_runner",
]

Rows = Iterable[Mapping[str, Any]]


class MemtableConfig(ComponentConfig):
    rows: list[dict[str, Any]] = Field(
        default_factory=list, description="the table's rows, one mapping of column -> value each")
    types: dict[str, str] = Field(
        default_factory=dict,
        description="column -> Ibis type (e.g. amount: decimal(18, 2)); needed for empty tables")


class MemtableSource(Source):
    """A small table written inline in the ruleset: for tests, docs and examples."""

    name = "memtable"
    description = "rows written inline in the ruleset (tests and examples)"
    Config: ClassVar[type[MemtableConfig]] = MemtableConfig

    def columns(self) -> list[str]:
        names = [k for row in self.config.rows for k in row]
        return list(dict.fromkeys([*names, *self.config.types]))

    def check(self) -> list[Problem]:
        from tiers.plugins.sources.csv import REQUIRED

        if not self.columns():
            return [self.context.problem(
                "a memtable needs `rows` (or `types` for an empty table)", "rows",
                hint="add rows, e.g. rows: [{customer_id: a, order_ts: 2026-01-05, amount: 10}]")]
        role = str(self.context.loc[-1])
        missing = [c for c in REQUIRED.get(role, ()) if c not in self.columns()]
        if missing:
            return [self.context.problem(
                f"the {role} table needs column(s) {', '.join(missing)}", "rows",
                hint=f"give every row {', '.join(missing)}, or declare them under `types`")]
        return []

    def load(self, con: Any) -> ir.Table:
        import ibis
        import pyarrow as pa

        from tiers.plugins.sources.csv import conform

        data = {c: [row.get(c) for row in self.config.rows] for c in self.columns()}
        untyped = {c: v for c, v in data.items() if c not in self.config.types}
        arrays = {c: _array(v) for c, v in untyped.items()}
        for col in self.config.types:
            # typed columns start as strings so "12.50" or a date string casts exactly
            arrays[col] = pa.array([None if v is None else str(v) for v in data[col]], pa.string())
        table = ibis.memtable(pa.table({c: arrays[c] for c in data}))
        if self.config.types:
            table = table.mutate(**{c: table[c].cast(t) for c, t in self.config.types.items()})
        return conform(table, amount_scale=2)


def _array(values: list[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types, e.g. 10 and "12.50"
        return pa.array([None if v is None else str(v) for v in values], pa.string())


class MemtablePlugin:
    """Registers the ``memtable`` source on plugin managers made for tests."""

    @staticmethod
    @hookimpl
    def register_sources(register: Any) -> None:
        register(MemtableSource)


def make_plugin_manager(*plugins: Any, strict: bool = True
                        ) -> tuple[pluggy.PluginManager, Registry]:
    """A fresh plugin manager: built-ins, ``memtable`` and ``plugins``, no entry points.

    ``strict`` (the default here) turns a broken plugin into a :class:`tiers.PluginError`
    instead of a warning, so a test sees the reason at once.
    """
    from tiers.core.plugins import get_plugin_manager

    return get_plugin_manager(entry_points=False, extra_plugins=[MemtablePlugin, *plugins],
                              strict=strict)


def installed_component(kind: str, name: str) -> type:
    """The class an installed distribution registers as ``kind`` ``name`` through its entry
    point, loaded as ``tiers`` itself would; fails the test with the loading problems if none."""
    from tiers.core.plugins import get_plugin_manager

    _, registry = get_plugin_manager(strict=False)
    cls = registry.get(kind, name)
    if cls is None:
        clash = registry.clash_message(kind, name)
        reasons = [clash] if clash else registry.failures
        raise AssertionError(
            f"no installed plugin registers the {kind} {name!r}"
            + (": " + "; ".join(reasons) if reasons else
               "; is the package installed (pip install -e .) with a `tiers` entry point?"))
    return cls


class _Dumper:
    """YAML dumping that keeps decimals exact (as strings; sources cast them back)."""

    @staticmethod
    def dump(data: Any) -> str:
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        Dumper.add_representer(
            decimal.Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v)))
        return yaml.dump(data, Dumper=Dumper, allow_unicode=True, sort_keys=False)


def _rows(table: Any) -> list[dict[str, Any]]:
    if hasattr(table, "to_pylist"):  # pyarrow
        return list(table.to_pylist())
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # pandas
        return list(table.to_dict("records"))
    return [dict(row) for row in table]


class RulesetRunner:
    """Writes ruleset snippets into ``workdir`` and loads, runs or plans them."""

    def __init__(self, workdir: str | Path, plugins: Iterable[Any] = (), strict: bool = True):
        self.workdir = Path(workdir)
        self.plugins: list[Any] = list(plugins)
        self.strict = strict
        self._pm: tuple[pluggy.PluginManager, Registry] | None = None
        self._count = 0

    def register(self, *plugins: Any) -> RulesetRunner:
        """Add plugin modules or objects; the plugin manager is rebuilt on next use."""
        self.plugins += plugins
        self._pm = None
        return self

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        return self._plugins()[0]

    @property
    def registry(self) -> Registry:
        return self._plugins()[1]

    def _plugins(self) -> tuple[pluggy.PluginManager, Registry]:
        if self._pm is None:
            self._pm = make_plugin_manager(*self.plugins, strict=self.strict)
        return self._pm

    def write(self, ruleset: Mapping[str, Any] | str, **tables: Rows) -> Path:
        """Write ``ruleset`` (a mapping, or YAML text) to a new file, adding a ``memtable``
        source for each table given as a keyword; returns the file's path."""
        self._count += 1
        path = self.workdir / f"ruleset_{self._count}.yaml"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(ruleset, str):
            if tables:
                raise TypeError("pass tables with a mapping ruleset, or write them in the YAML")
            path.write_text(ruleset, encoding="utf-8")
            return path
        data: dict[str, Any] = {"name": "test", **ruleset}
        sources = dict(data.get("sources") or {})
        for role, rows in tables.items():
            sources[role] = {"type": "memtable", "rows": _rows(rows)}
        if sources:
            data["sources"] = sources
        path.write_text(_Dumper.dump(data), encoding="utf-8")
        return path

    def load(self, ruleset: Mapping[str, Any] | str | Path, **tables: Rows) -> LoadedRuleset:
        """Validate the ruleset; raises :class:`tiers.RulesetError` listing every problem."""
        from tiers.ruleset.loader import load_ruleset

        path = ruleset if isinstance(ruleset, Path) else self.write(ruleset, **tables)
        pm, registry = self._plugins()
        return load_ruleset(path, registry=registry, pm=pm)

    def problems(self, ruleset: Mapping[str, Any] | str | Path, **tables: Rows) -> list[str]:
        """The rendered problems of an invalid ruleset; fails the test if it is valid."""
        try:
            self.load(ruleset, **tables)
        except RulesetError as exc:
            return [p.render() for p in exc.problems]
        raise AssertionError("the ruleset is valid, but problems were expected")

    def run(self, ruleset: Mapping[str, Any] | str | Path, as_of: Any = None,
            **tables: Rows) -> RunResult:
        """Load and run the ruleset with the engine, as ``tiers run`` does."""
        from tiers.pipeline import run

        return run(self.load(ruleset, **tables), as_of=as_of)

    def evaluate(self, ruleset: Mapping[str, Any] | str | Path, as_of: Any = None,
                 **tables: Rows) -> Evaluation:
        """The lazy per-customer evaluation (see :func:`tiers.engine.evaluate.evaluate`)."""
        from tiers.engine.evaluate import evaluate

        return evaluate(self.load(ruleset, **tables), as_of=as_of)

    def plan(self, ruleset: Mapping[str, Any] | str | Path, as_of: Any = None,
             **tables: Rows) -> dict[str, pa.Table]:
        """The intents each action plans, by action id, as ``tiers run --dry-run`` plans them
        (one row per intent: key, customer_id, event, detail, period, payload as JSON text).

        Nothing is written; ``apply`` is replaced by a function that fails the test, so an
        action that acts while planning is caught.
        """
        import json

        import pyarrow as pa

        from tiers.pipeline import run

        loaded = self.load(ruleset, **tables)
        for action in loaded.actions:
            def refuse(*_: Any, action_id: str = action.id, **__: Any) -> None:
                raise AssertionError(f"action {action_id!r} called apply() while planning")

            action.apply = refuse  # type: ignore[method-assign]
        result = run(loaded, as_of=as_of, dry_run=True)
        return {p.action.id: pa.table({
            "key": pa.array([i.key for i in p.intents], pa.string()),
            "customer_id": pa.array([i.customer_id for i in p.intents], pa.string()),
            "event": pa.array([i.event for i in p.intents], pa.string()),
            "detail": pa.array([i.detail for i in p.intents], pa.string()),
            "period": pa.array([i.period for i in p.intents], pa.string()),
            "payload": pa.array([json.dumps(i.payload, ensure_ascii=False, default=str)
                                 for i in p.intents], pa.string()),
        }) for p in result.plans}

    def apply(self, ruleset: Mapping[str, Any] | str | Path, as_of: Any = None,
              state: str | None = None, **tables: Rows) -> RunResult:
        """Run the ruleset as ``tiers run`` does, with a state store (a SQLite file in the
        work folder unless ``state`` names one): plan, record, then apply every open intent
        through the ledger. Run it again to see that nothing is applied twice.

        ``result.applied.actions`` holds per action the intents done, failed and deferred.
        """
        from tiers.pipeline import run

        loaded = self.load(ruleset, **tables)
        url = state or f"sqlite:///{(self.workdir / 'state.db').resolve()}"
        return run(loaded, as_of=as_of, state=url)


def tiers_by_customer(result: Any) -> dict[str, str]:
    """``{customer_id: tier id}`` from a RunResult, an Evaluation or a pyarrow table."""
    table = getattr(result, "table", result)
    if hasattr(table, "to_pyarrow"):  # lazy Ibis table of an Evaluation
        table = table.select("customer_id", "tier").to_pyarrow()
    ids = table.column("customer_id").to_pylist()
    tiers = table.column("tier").to_pylist()
    return {str(c): t for c, t in zip(ids, tiers, strict=True)}


def assert_tiers(result: Any, expected: Mapping[str, str], *, exact: bool = False) -> None:
    """Assert each customer's tier; with ``exact``, no other customer may appear.

    The failure lists every mismatch with the customer's metric values, which is usually
    enough to see which threshold or window was off.
    """
    actual = tiers_by_customer(result)
    wrong = [c for c, t in expected.items() if actual.get(str(c)) != t]
    extra = sorted(set(actual) - {str(c) for c in expected}) if exact else []
    if not wrong and not extra:
        return
    rows = _metric_rows(result)
    lines = []
    for c in wrong:
        got = actual.get(str(c), "<no such customer>")
        detail = rows.get(str(c))
        lines.append(f"customer {c!r}: expected {expected[c]!r}, got {got!r}"
                     + (f" ({detail})" if detail else ""))
    if extra:
        lines.append(f"unexpected customers: {', '.join(extra)}")
    raise AssertionError("tiers differ:\n  " + "\n  ".join(lines))


def _metric_rows(result: Any) -> dict[str, str]:
    columns = getattr(result, "metric_columns", None)
    table = getattr(result, "table", None)
    if not columns or table is None or not hasattr(table, "to_pylist"):
        return {}
    return {str(r["customer_id"]): ", ".join(f"{c}={r.get(c)}" for c in columns)
            for r in table.to_pylist()}


@pytest.fixture
def tiers_runner(tmp_path: Path) -> RulesetRunner:
    """A :class:`RulesetRunner` on a fresh plugin manager, writing rulesets into tmp_path."""
    return RulesetRunner(tmp_path)
