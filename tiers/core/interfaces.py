"""Base classes of the components: sources and policies here, actions in
:mod:`tiers.core.action`.

A component class has a ``name`` (the ruleset ``type:``), a pydantic ``Config`` with
``extra="forbid"``, and the methods below. It is built once per ruleset with its validated
config and a :class:`Context`. Heavy libraries (ibis, pyarrow) are imported inside methods so
that loading plugins stays cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from tiers.core.errors import Problem
from tiers.core.locations import LineMap, Loc, render_path
from tiers.core.metrics import MetricSpec
from tiers.core.windows import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir


class MetricCatalog(Protocol):
    """The metric names of one ruleset (built-in measures and its declared ``metrics:``)."""

    def resolve(self, measure: str, window: Window | None = None) -> MetricSpec:
        """The spec of ``measure`` over ``window`` (the ruleset's window by default); raises
        :class:`tiers.core.metrics.UnknownMetric`."""
        ...

    def names(self) -> list[str]:
        """Every metric name a policy or condition may read."""
        ...


class ComponentConfig(BaseModel):
    """Base for component configs: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


@dataclass
class Context:
    """What a component knows about the ruleset it was declared in."""

    #: the validated ruleset (:class:`tiers.ruleset.models.Ruleset`)
    ruleset: Any
    file: Path
    loc: Loc
    lines: LineMap
    component_id: str = ""
    requested_metrics: list[MetricSpec] = field(default_factory=list)
    #: the plugin manager, for components that call hooks (e.g. prepare_jinja_environment)
    pm: Any = None
    #: the ruleset's metric names, filled in by the loader
    catalog: MetricCatalog | None = None

    @property
    def base_dir(self) -> Path:
        """Relative paths in a ruleset are relative to the ruleset file."""
        return self.file.parent

    def resolve(self, path: str | Path) -> Path:
        """A path from this component's options, relative to the file that wrote it (with
        ``extends:``, a base ruleset's paths stay relative to the base)."""
        p = Path(path).expanduser()
        if p.is_absolute():
            return p
        wrote = self.lines.file_of_value(self.loc, str(path), str(self.file))
        return Path(wrote).parent / p

    def problem(self, message: str, *sub: str | int, hint: str | None = None) -> Problem:
        """A :class:`Problem` located at this component's YAML path plus ``sub``."""
        loc = (*self.loc, *sub)
        return Problem(message, file=self.lines.file(loc, str(self.file)),
                       line=self.lines.line(loc),
                       path=render_path(loc), hint=hint)

    def metric(self, measure: str, window: Window | None = None) -> MetricSpec:
        """Ask the engine for a per-customer metric; returns its spec (``spec.column``)."""
        assert self.catalog is not None, "a Context is built by the ruleset loader"
        spec = self.catalog.resolve(measure, window)
        if spec not in self.requested_metrics:
            self.requested_metrics.append(spec)
        return spec

    def metric_names(self) -> list[str]:
        """Every metric name this ruleset offers (built-in measures and declared metrics)."""
        assert self.catalog is not None, "a Context is built by the ruleset loader"
        return self.catalog.names()


class Component:
    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]] = ComponentConfig
    description: ClassVar[str] = ""

    def __init__(self, config: Any, context: Context):
        self.config = config
        self.context = context
        self.id: str = context.component_id or self.name

    def check(self) -> list[Problem]:
        """Semantic checks beyond the Config schema (files exist, tier ids defined...)."""
        return []


class Source(Component):
    """Loads one table (orders, customers, or any event table) for the engine."""

    #: columns the table offers after mapping, for docs and validation
    provides: ClassVar[Sequence[str]] = ()
    #: set by the engine before :meth:`load` when it will pass the distinct customer ids of
    #: the rows to :meth:`confirm_ids`: a load may then take text ids as they are before it
    #: knows that none needs trimming or normalising, a test of every row otherwise
    defer_id_check: bool = False

    def load(self, con: Any) -> ir.Table:
        """Return the table as an Ibis table on the backend ``con``; no per-row Python."""
        raise NotImplementedError

    def confirm_ids(self, con: Any, ids: ir.Table) -> bool:
        """After a :meth:`load` with ``defer_id_check``, given every distinct customer id of
        its rows (``ids.customer_id``): whether the table stands. False means some id needs
        work the load left out, so the engine loads again with ``defer_id_check`` off. A
        source that never defers has nothing to confirm."""
        return True

    def load_only(self, con: Any, customer_ids: Sequence[str]) -> ir.Table:
        """Only these customers' rows (``tiers explain``, `tiers serve` simulations). The
        default filters :meth:`load`; a source that can read less (a filter pushed into its
        scan or query) overrides it. Must not write anything: it sees a part of the data."""
        table = self.load(con)
        return table.filter(table.customer_id.isin(list(customer_ids)))


class Policy(Component):
    """Maps metrics to a candidate tier (``output = "tier"``) or to segment labels."""

    output: ClassVar[Literal["tier", "segment"]] = "tier"
    #: True when the policy evaluates a Python function per row (reported by `tiers plugins`)
    row_wise: ClassVar[bool] = False

    def metrics(self) -> list[MetricSpec]:
        """The metrics this policy reads; requested through ``self.context.metric``."""
        return []

    def reads_population(self) -> bool:
        """True when what it grants a customer depends on the other customers (quintiles,
        percentiles, min-max scaling): then one customer cannot be evaluated on their own rows
        alone, and `tiers explain` evaluates everyone."""
        return False

    def rank(self, table: ir.Table) -> ir.IntegerValue:
        """Ladder index granted per customer (0 = lowest tier), NULL where it grants nothing."""
        raise NotImplementedError

    def segments(self, table: ir.Table) -> dict[str, ir.BooleanValue]:
        """For segment policies: label -> condition per customer."""
        raise NotImplementedError

    def customer_table(self, tables: dict[str, ir.Table], as_of: dt.datetime) -> ir.Table | None:
        """Optional: a per-customer table (``customer_id`` plus columns) computed from the
        source tables, e.g. a points balance from orders; the engine left-joins it onto the
        metrics before :meth:`columns` and :meth:`rank`. None (the default) adds nothing."""
        return None

    def columns(self, table: ir.Table) -> dict[str, ir.Value]:
        """Optional per-customer output columns (points balance, R/F/M scores...) as
        expressions over the metrics table; the engine adds them before ranks are computed,
        so :meth:`rank` and :meth:`segments` can read them."""
        return {}

    def explain(self, row: dict[str, Any]) -> list[str]:
        """Lines saying why this policy granted what it did for one customer's metrics."""
        return []
