"""The actions framework: ``when:`` selection, intents with idempotency keys, and the plan.

An action turns the customers its ``when:`` selects into *intents*. Each intent has a stable
key, a hash of (ruleset name, action id, customer id, event, period), so planning the same
period again yields the same keys and the ledger issues nothing twice. Selection is an Ibis
expression over the materialised run result; per-customer Python objects exist only for the
customers an action touches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from tiers.core.errors import Problem, TiersError
from tiers.core.interfaces import Action, ComponentConfig

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from tiers.core.apply import ApplyContext

EVENTS = ("entered", "upgraded", "downgraded", "retained", "at_risk", "segment_entered",
          "segment_left", "birthday")
Period = Literal["day", "month", "quarter", "year", "once"]


class ActionError(TiersError):
    """An action cannot be planned (bad selection, template error...)."""

    exit_code = 5


class When(ComponentConfig):
    """Which customers an action touches; every key given must hold."""

    tier: str | list[str] | None = Field(
        default=None, description="tier id(s) the customer holds after this run")
    event: str | list[str] | None = Field(
        default=None, description=f"event(s) of this run: {', '.join(EVENTS)}")
    segment: str | list[str] | None = Field(
        default=None, description="segment label(s) the customer is in")
    expression: str | None = Field(
        default=None, description="a condition over metric and customer columns")

    def is_empty(self) -> bool:
        return not (self.tier or self.event or self.segment or self.expression)


def as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class ActionConfig(ComponentConfig):
    when: When = Field(default_factory=When, description="which customers this action touches")
    period: Period = Field(
        default="day", description="an intent is issued at most once per customer, event "
        "and period: day (the run's as-of date), month, quarter, year or once")


def period_label(as_of: dt.datetime, period: str) -> str:
    if period == "day":
        return as_of.date().isoformat()
    if period == "month":
        return f"{as_of:%Y-%m}"
    if period == "quarter":
        return f"{as_of.year}-Q{(as_of.month - 1) // 3 + 1}"
    if period == "year":
        return str(as_of.year)
    return "once"


def idempotency_key(ruleset: str, action: str, customer_id: str, event: str,
                    period: str) -> str:
    """Stable across runs, processes and machines (no Python ``hash``)."""
    text = "\x1f".join((ruleset, action, customer_id, event, period))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def intent_label(event: str, detail: str | None) -> str:
    """The event part of an idempotency key: ``upgraded:gold``, or the event alone."""
    return f"{event}:{detail}" if detail else event


def jsonable(value: Any) -> Any:
    """A value as JSON will hold it (dates as ISO text, decimals as floats)."""
    import decimal

    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@dataclass
class Intent:
    key: str
    action: str
    action_type: str
    customer_id: str
    event: str
    detail: str | None
    period: str
    payload: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    attempts: int = 0
    planned_run: int | None = None

    @classmethod
    def from_ledger(cls, row: dict[str, Any]) -> Intent:
        return cls(row["key"], row["action"], row["action_type"], row["customer_id"],
                   row["event"], row["detail"], row["period"],
                   json.loads(row["payload"] or "{}"), row["status"], row["attempts"],
                   row["planned_run"])


@dataclass
class Outcome:
    key: str
    status: Literal["done", "failed", "deferred"]
    result: Any = None
    error: str | None = None


@dataclass
class PlanInput:
    """What an action plans from: the run's result, materialised once."""

    ruleset: str
    as_of: dt.datetime
    table: ir.Table              # one row per customer (in-memory Ibis table)
    events: ir.Table | None      # customer_id, event, detail; None if the engine has none
    result: pa.Table
    tier_ids: list[str]
    store: Any = None            # StateStore (read-only use) or None


@dataclass
class ActionPlan:
    action: TierAction
    intents: list[Intent]
    known: int = 0               # keys already in the ledger (done or resumable)
    notes: list[str] = field(default_factory=list)

    @property
    def new(self) -> int:
        return len(self.intents) - self.known


class TierAction(Action):
    """Base of the built-in actions; outside plugins may subclass it too."""

    Config: ClassVar[type[ActionConfig]] = ActionConfig
    #: the effect leaves the store (mail, HTTP): each intent is marked 'sending' first
    external: ClassVar[bool] = True
    batch_size: ClassVar[int] = 100
    #: an empty ``when:`` selects everyone; most actions refuse that
    requires_when: ClassVar[bool] = True
    #: over several periods an intent counts once per customer, event and period, as the
    #: ledger issues it; False where the figure is a standing level (customers with a rep)
    counts_once_per_period: ClassVar[bool] = True
    #: whether `tiers diff` and `tiers backtest` show this action's figures
    has_costs: ClassVar[bool] = True

    # ---- validation ------------------------------------------------------------------------

    def check(self) -> list[Problem]:
        problems: list[Problem] = []
        when = self.config.when
        if self.requires_when and when.is_empty():
            problems.append(self.context.problem(
                "`when:` is empty, so this action would touch every customer", "when",
                hint="say which customers, e.g. `when: {tier: vip}` or "
                     "`when: {event: upgraded}`"))
        tiers = self.context.ruleset.tier_ids()
        for i, t in enumerate(as_list(when.tier)):
            if t not in tiers:
                from tiers.core.errors import did_you_mean

                sub = ("when", "tier") if isinstance(when.tier, str) else ("when", "tier", i)
                problems.append(self.context.problem(
                    f"unknown tier {t!r}", *sub,
                    hint=f"{did_you_mean(t, tiers)}tiers of this ruleset: {', '.join(tiers)}"))
        for i, e in enumerate(as_list(when.event)):
            if e not in EVENTS:
                from tiers.core.errors import did_you_mean

                sub = ("when", "event") if isinstance(when.event, str) else ("when", "event", i)
                problems.append(self.context.problem(
                    f"unknown event {e!r}", *sub,
                    hint=f"{did_you_mean(e, EVENTS)}events: {', '.join(EVENTS)}"))
        if when.expression:
            try:
                from tiers.core.expressions import ExpressionError, parse_expression
            except ImportError:  # older core without safe expressions
                return problems
            try:
                parse_expression(when.expression)
            except ExpressionError as exc:
                problems.append(self.context.problem(
                    f"bad expression: {exc}", "when", "expression",
                    hint="use metric names, comparisons, and/or/not"))
        return problems

    # ---- planning --------------------------------------------------------------------------

    def select(self, inp: PlanInput) -> ir.Table:
        """customer_id, event, detail and the customer's row, for each selected customer."""
        import ibis

        when = self.config.when
        t = inp.table
        conds = []
        tiers = as_list(when.tier)
        if tiers:
            conds.append(t.tier.isin(tiers))
        segments = as_list(when.segment)
        if segments:
            if "segments" not in t.columns:
                raise ActionError(f"action {self.id!r}: `when.segment` needs segment policies "
                                  "in the ruleset (the run has no segments)")
            conds.append(ibis.or_(*[t.segments.contains(s) for s in segments]))
        if when.expression:
            conds.append(self._expression(t, when.expression))
        base = t.filter(ibis.and_(*conds)) if conds else t
        events = as_list(when.event)
        if events:
            if inp.events is None:
                raise ActionError(f"action {self.id!r}: `when.event` needs the run's events, "
                                  "which this engine does not provide")
            ev = inp.events.filter(inp.events.event.isin(events))
            ev = ev.select(ev.customer_id.cast("string").name("customer_id"),
                           ev.event.cast("string").name("event"),
                           ev.detail.cast("string").name("detail"))
            base = base.drop(*[c for c in ("event", "detail") if c in base.columns])
            joined = ev.join(base, "customer_id")
            return joined.drop("customer_id_right") if (
                "customer_id_right" in joined.columns) else joined
        if tiers:
            label, detail = ibis.literal("tier"), base.tier
        elif segments:
            label = ibis.literal("segment")
            detail = ibis.cases(*[(base.segments.contains(s), s) for s in segments])
        else:
            label, detail = ibis.literal("match"), ibis.null("string")
        return base.mutate(event=label, detail=detail.cast("string"))

    def _expression(self, t: ir.Table, src: str) -> ir.BooleanValue:
        from tiers.core.expressions import ExpressionError, compile_expression

        try:
            return compile_expression(src, t)
        except ExpressionError as exc:
            raise ActionError(f"action {self.id!r}: when.expression {src!r}: {exc}") from None

    def plan(self, inp: PlanInput) -> list[Intent]:  # type: ignore[override]
        selected = self.select(inp).order_by("customer_id", "event")
        rows = selected.to_pyarrow().to_pylist()
        period = period_label(inp.as_of, self.config.period)
        intents = []
        for row in rows:
            cid = str(row["customer_id"])
            event = row["event"]
            detail = row.get("detail")
            key = idempotency_key(inp.ruleset, self.id, cid, intent_label(event, detail),
                                  period)
            payload = {"customer": jsonable({k: v for k, v in row.items()
                                             if k not in ("event", "detail")})}
            intents.append(Intent(key, self.id, self.name, cid, event, detail, period, payload))
        return self.prepare(intents, inp)

    def prepare(self, intents: list[Intent], inp: PlanInput) -> list[Intent]:
        """Add to each intent's payload what the effect needs (rendered mail...). May raise
        :class:`ActionError`; runs before anything is written, also in --dry-run."""
        return intents

    def describe(self, intent: Intent) -> str:
        """One line for the dry-run sample."""
        detail = f" ({intent.detail})" if intent.detail else ""
        return f"{intent.customer_id}: {intent.event}{detail}"

    # ---- what-if figures ------------------------------------------------------------------

    def cost_rows(self, inp: PlanInput) -> ir.Table:
        """One row per intent a plan would make: customer_id, event, detail and ``value``
        (what the intent hands out, NULL when it has no money value); computed on the engine,
        for `tiers diff` and `tiers backtest`."""
        s = self.select(inp)
        return s.select(customer_id=s.customer_id.cast("string"),
                        event=s.event.cast("string"), detail=s.detail.cast("string"),
                        value=self.cost_value(s).cast("float64"))

    def cost_value(self, selected: ir.Table) -> ir.Value:
        import ibis

        return ibis.null("float64")

    def cost_figures(self, rows: pa.Table) -> dict[str, float]:
        """Named figures from :meth:`cost_rows`, e.g. ``{"emails": 120}``."""
        return {"intents": rows.num_rows}

    # ---- applying --------------------------------------------------------------------------

    def start(self, ctx: ApplyContext) -> None:
        """Before the first batch (open connections, check secrets); raising fails every
        intent of this action with the message."""

    def execute(self, intents: list[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        """Carry out a batch, yielding one outcome per intent. External actions call
        ``ctx.begin(intent)`` just before each effect; store actions write through
        ``ctx.conn`` (the batch's transaction)."""
        raise NotImplementedError

    def finish(self, ctx: ApplyContext) -> list[str]:
        """After the last batch (close connections, write exports); returns notes."""
        return []
