"""Request and response bodies: thin pydantic views over what explain, simulate and the store
already produce, for validation and the OpenAPI description."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

#: the most hypothetical orders one simulation takes
MAX_ORDERS = 100
#: the largest request body accepted, in bytes (checked before parsing)
MAX_BODY = 32 * 1024
#: customer ids are at most this long (the state store's column)
MAX_ID = 200

CustomerId = Annotated[str, Field(min_length=1, max_length=MAX_ID,
                                  description="the customer id, as in the data")]


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- errors ------------------------------------------------------------------------------

class FieldError(_View):
    path: str = Field(description="where in the request, e.g. body.orders[0].amount")
    message: str


class ErrorBody(_View):
    status: int
    message: str
    errors: list[FieldError] = Field(default_factory=list)


class ErrorView(_View):
    error: ErrorBody


# ---- explain -----------------------------------------------------------------------------

class CandidateView(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    granted: str | None
    reasons: list[str]


class GapView(BaseModel):
    """How much more of one metric reaches a higher tier on one policy."""

    policy: str = Field(description="the policy id, or `qualify:TIER` for a tier condition")
    tier: str = Field(description="the tier it would reach")
    tier_label: str = Field(description="that tier's display name")
    metric: str
    current: float
    target: float
    needed: float = Field(description="how much more, in the metric's own units")
    window: str = Field(description="the window the metric counts, in words ('' for all time)")


class EventView(BaseModel):
    model_config = ConfigDict(extra="allow")

    event: str
    detail: str | None


class ExplanationView(BaseModel):
    """The content of `tiers explain --format json` (tiers.whatif.explain.Explanation); fields
    explain adds later pass through unchanged."""

    model_config = ConfigDict(extra="allow")

    ruleset: str
    customer_id: str
    as_of: str = Field(description="the evaluation's as-of day")
    metrics: dict[str, Any]
    attributes: dict[str, Any]
    candidates: list[CandidateView]
    hit_policy: str
    entry_tier: str
    maintenance: list[str]
    retention: list[str]
    override: str | None
    tier: str
    tier_label: str
    tier_event: str
    tier_since: str | None
    held_until: str | None
    previous_tier: str | None
    segments: list[str]
    segment_reasons: list[str]
    events: list[EventView]
    next_tier: str | None
    distance: list[str] = Field(description="ways to reach the next tier, one per line")
    gaps: list[GapView] = Field(
        default_factory=list,
        description="the figures behind `distance`, for policies that can tell them")


class RunRefView(_View):
    id: int
    as_of: dt.date


class RecordedView(_View):
    """The customer's row in the state store, as the latest run left it."""

    tier: str
    tier_name: str
    since: dt.datetime
    held_until: dt.datetime | None
    segments: list[str]
    changed_in_run: int = Field(description="the run that last changed this row")


class CustomerExtra(_View):
    """What a lookup adds to the explanation."""

    recorded: RecordedView | None = Field(
        description="the customer's tier as the state store holds it now")
    latest_run: RunRefView = Field(description="the latest run recorded in the store")
    evaluated_run: RunRefView = Field(
        description="the run the explanation was evaluated for; older than latest_run for "
                    "the few seconds a new run takes to evaluate")


class CustomerView(ExplanationView, CustomerExtra):
    model_config = ConfigDict(extra="allow")


def _explanation_adapter() -> TypeAdapter:
    from tiers.serve.engine import Explanation

    return TypeAdapter(Explanation)


#: serialises explain's Explanation dataclass straight to JSON (what to_json gives, without
#: its deep copy)
EXPLANATION = _explanation_adapter()


# ---- simulate ----------------------------------------------------------------------------

class OrderIn(_View):
    amount: Annotated[Decimal, Field(allow_inf_nan=False, ge=Decimal("-1e12"),
                                     le=Decimal("1e12"),
                                     description="order value in the data's currency; "
                                                 "negative for a refund")]
    order_ts: dt.datetime | None = Field(
        default=None, description="when the order is placed; default: now. A time without a "
                                  "zone is taken as the data's own clock")


class SimulateIn(_View):
    orders: Annotated[list[OrderIn], Field(max_length=MAX_ORDERS)] = Field(
        description=f"hypothetical orders, at most {MAX_ORDERS}")
    as_of: dt.date | None = Field(
        default=None, description="evaluate as of this day; default: the day after the "
                                  "latest order, and never before the last recorded run")


class OrderOut(_View):
    amount: Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
    order_ts: dt.datetime


class SimulationView(_View):
    customer_id: str
    as_of: dt.date
    orders: list[OrderOut]
    tier: str
    tier_name: str
    tier_event: str
    previous_tier: str | None
    segments: list[str]
    events: list[EventView]
    population: bool = Field(description="the ruleset compares customers with each other "
                                         "(RFM quintiles, score percentiles), so every "
                                         "customer was evaluated")
    explanation: ExplanationView


# ---- tiers, runs, health -----------------------------------------------------------------

class TierCount(_View):
    tier: str
    name: str
    customers: int
    share: float


class DistributionView(_View):
    run: RunRefView | None
    customers: int
    tiers: list[TierCount]


class RunView(_View):
    id: int
    as_of: dt.date
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    customers: int | None
    changed: int | None
    intents_planned: int | None
    intents_done: int | None
    intents_failed: int | None
    events: dict[str, int]
    error: str | None


class RunsView(_View):
    runs: list[RunView]


class HealthView(_View):
    status: str = Field(description="ok, or degraded when the store does not answer")
    store: str = Field(description="reachable or unreachable")
