"""The action contract, one for the built-in actions and for outside plugins alike.

An action turns the customers its ``when:`` selects into *intents* (:meth:`Action.plan`), then
carries intents out (:meth:`Action.apply`), yielding one :class:`Outcome` per intent. The
framework owns everything around the two steps: a dry run stops after the plan; every intent
is written to the ledger before its effect and marked done or failed after it; an intent left
open by a crash or a failure is handed to ``apply`` again on the next run, never one whose
effect is recorded as done.

Each intent has a stable key, a hash of (ruleset, action id, customer, event, period), so
planning the same period again yields the same keys and the ledger issues nothing twice.
Selection is an Ibis expression over the run's per-customer result; Python objects exist only
for the customers an action touches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from tiers.core import exits
from tiers.core.errors import Problem, TiersError, did_you_mean
from tiers.core.interfaces import Component, ComponentConfig
from tiers.core.record import EVENTS

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

#: consecutive failures after which an action stops for the run (its circuit breaker)
DEFAULT_STOP_AFTER_FAILURES = 5

Period = Literal["day", "month", "quarter", "year", "once"]


class ActionError(TiersError):
    """An action cannot be planned (bad selection, template error...)."""

    exit_code = exits.ACTIONS


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
    """Base of every action's options: which customers (``when``) and how often (``period``)."""

    when: When = Field(default_factory=When, description="which customers this action touches")
    period: Period = Field(
        default="day", description="an intent is issued at most once per customer, event "
        "and period: day (the run's as-of date), month, quarter, year or once")
    stop_after_failures: int = Field(
        default=DEFAULT_STOP_AFTER_FAILURES, ge=0, description="stop this action for the "
        "run after this many failed intents in a row (a dead endpoint), leaving the rest "
        "pending for the next run; 0 never stops")


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
    """One effect an action means to have: its key, who and why, and what the effect needs."""

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
    """What applying one intent did: ``done`` (with a JSON-able ``result``), ``failed`` (with
    an ``error``; the next run tries again) or ``deferred`` (left pending on purpose)."""

    key: str
    status: Literal["done", "failed", "deferred"]
    result: Any = None
    error: str | None = None
    #: the failure is this intent's own (a bad address in its data), not the endpoint's: it
    #: does not count towards stopping the action after consecutive failures
    own_fault: bool = False


Selector = Callable[["PlanInput", When, str], "ir.Table"]


@dataclass
class PlanInput:
    """What an action plans from: the run's result, materialised once."""

    ruleset: str
    as_of: dt.datetime
    table: ir.Table              # one row per customer (in-memory Ibis table)
    events: ir.Table | None      # customer_id, event, detail; None if the engine has none
    result: pa.Table
    tier_ids: list[str]
    store: Any = None            # the state store (read only) or None
    #: the framework's ``when:`` selection (tiers.actions.select)
    selector: Selector | None = None
    #: runs an expression over these tables on their backend (tiers.engine.fetch)
    fetcher: Callable[[ir.Table], pa.Table] | None = None

    def fetch(self, expr: ir.Table) -> pa.Table:
        """Run ``expr`` (built on :attr:`table` or :attr:`events`) and return its rows."""
        return self.fetcher(expr) if self.fetcher is not None else expr.to_pyarrow()

    def select(self, when: When, action_id: str) -> ir.Table:
        """customer_id, event, detail and the customer's row, for each customer ``when``
        selects."""
        assert self.selector is not None, "a PlanInput is built by tiers.actions.plan"
        return self.selector(self, when, action_id)


@dataclass
class ApplyContext:
    """What an action's :meth:`Action.apply` may use while it carries out intents."""

    store: Any                         # the state store (tiers.store.store.StateStore)
    run_id: int
    ruleset: str
    as_of: dt.datetime
    base_dir: Any
    result: Any = None                 # the run's result (tiers.engine.result.RunResult)
    #: the batch's transaction of store-only actions (``external = False``): write through it
    #: and the writes commit with the intents they carry out
    conn: Any = None
    #: the run's plan input, for actions that select again while applying (export)
    inputs: PlanInput | None = None

    def secret(self, env_var: str, name: str) -> tuple[str, bool]:
        """A secret from the environment, else one generated once and kept in the store;
        returns (secret, from_environment)."""
        value = os.environ.get(env_var)
        if value:
            return value, True
        return self.store.secret(name), False

    def ledger(self, *, action: str | None = None, period: str | None = None,
               run: int | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Ledger rows of this ruleset (key, customer_id, event, detail, period, status,
        result as parsed JSON...), oldest first, filtered by the arguments given."""
        return self.store.ledger_rows(self.ruleset, action=action, period=period, run=run,
                                      status=status, conn=self.conn)

    def append_rows(self, table: str, rows: pa.Table, url: str | None = None) -> None:
        """Append ``rows`` to the database table ``table`` (created if missing), in the
        state store's batch transaction or, with ``url``, in another database."""
        self.store.append_rows(table, rows, url=url, conn=self.conn)

    def begin(self, intent: Intent) -> None:
        """Kept for plugins written against tiers 0.1: the framework now records each intent
        as in flight when ``apply`` takes it from its ``intents``, so this does nothing."""


class Action(Component):
    """Base of every action: plan intents, then apply them; the framework owns the ledger.

    A subclass sets ``name`` and ``Config`` (a subclass of :class:`ActionConfig`) and
    implements :meth:`apply`; most need nothing else, since the default :meth:`plan` makes one
    intent per customer and event that ``when:`` selects. Override :meth:`prepare` to add what
    the effect needs to each intent's payload (it runs in dry runs too, before anything is
    written), and :meth:`plan` only to plan something other than one intent per customer.
    """

    Config: ClassVar[type[ComponentConfig]] = ActionConfig
    #: the effect leaves the store (mail, HTTP): each intent is recorded as in flight when
    #: ``apply`` takes it; False for effects written through ``ctx.conn`` (coupons, reps)
    external: ClassVar[bool] = True
    batch_size: ClassVar[int] = 100
    #: an empty ``when:`` selects everyone; most actions refuse that
    requires_when: ClassVar[bool] = True
    #: over several periods an intent counts once per customer, event and period, as the
    #: ledger issues it; False where the figure is a standing level (customers with a rep)
    counts_once_per_period: ClassVar[bool] = True
    #: whether `tiers diff` and `tiers backtest` show this action's figures
    has_costs: ClassVar[bool] = True

    def tables(self) -> Sequence[Any]:
        """SQLAlchemy tables this action keeps in the state store beside the ledger (coupon
        codes, rep assignments); the framework creates them when a run begins."""
        return ()

    # ---- validation ------------------------------------------------------------------------

    def check(self) -> list[Problem]:
        when = getattr(self.config, "when", None)
        if not isinstance(when, When):
            return []
        problems: list[Problem] = []
        if self.requires_when and when.is_empty():
            problems.append(self.context.problem(
                "`when:` is empty, so this action would touch every customer", "when",
                hint="say which customers, e.g. `when: {tier: vip}` or "
                     "`when: {event: upgraded}`"))
        tiers = self.context.ruleset.tier_ids()
        for i, t in enumerate(as_list(when.tier)):
            if t not in tiers:
                sub = ("when", "tier") if isinstance(when.tier, str) else ("when", "tier", i)
                problems.append(self.context.problem(
                    f"unknown tier {t!r}", *sub,
                    hint=f"{did_you_mean(t, tiers)}tiers of this ruleset: {', '.join(tiers)}"))
        for i, e in enumerate(as_list(when.event)):
            if e not in EVENTS:
                sub = ("when", "event") if isinstance(when.event, str) else ("when", "event", i)
                problems.append(self.context.problem(
                    f"unknown event {e!r}", *sub,
                    hint=f"{did_you_mean(e, EVENTS)}events: {', '.join(EVENTS)}"))
        if when.expression:
            from tiers.core.expressions import ExpressionError, parse_expression

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
        return inp.select(self.config.when, self.id)

    def plan(self, inp: PlanInput) -> list[Intent]:
        """The intents of this run: one per customer and event ``when:`` selects, keyed by
        (ruleset, action, customer, event, period). No side effects: a dry run shows them."""
        selected = self.select(inp).order_by("customer_id", "event")
        rows = inp.fetch(selected).to_pylist()
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

    def apply(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        """Carry out a batch of intents, yielding one :class:`Outcome` per intent.

        Take intents by iterating ``intents``: for an external action each is recorded as in
        flight as it is taken, so take one just before its effect. An intent may come again
        after a crash with the same key: pass the key on (Message-ID, Idempotency-Key) so the
        receiver can drop a repeat. Store-only actions write through ``ctx.conn``."""
        raise NotImplementedError

    def finish(self, ctx: ApplyContext) -> list[str]:
        """After the last batch (close connections, write exports); returns notes."""
        return []


def runnable_problem(cls: type) -> str | None:
    """Why the framework cannot run the action class ``cls``, or None when it can."""
    import inspect

    if cls.apply is Action.apply:
        return (f"action {cls.__name__} does not implement apply(intents, ctx); the framework "
                "would plan its intents and never carry them out")
    params = [p for p in inspect.signature(cls.apply).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) < 3:
        return (f"action {cls.__name__}.apply takes {len(params) - 1} argument(s); the action "
                "contract is apply(self, intents, ctx), yielding one Outcome per intent")
    uses_base_plan = cls.plan is Action.plan
    if uses_base_plan and not issubclass(cls.Config, ActionConfig):
        return (f"action {cls.__name__}.Config does not subclass tiers.ActionConfig, so it has "
                "no `when:` for the default plan(); subclass ActionConfig or override plan()")
    return None


def __getattr__(name: str) -> Any:
    if name == "TierAction":  # the name of the built-ins' base in tiers 0.1
        import warnings

        warnings.warn("tiers.core.action.TierAction is now tiers.Action", DeprecationWarning,
                      stacklevel=2)
        return Action
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
