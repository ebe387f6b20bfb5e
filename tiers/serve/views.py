"""What each endpoint answers, shared by the JSON API and the console's HTML fragments."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from tiers.serve import models as m

if TYPE_CHECKING:
    from tiers.serve.service import Service
    from tiers.serve.state import RunRef


class ApiError(Exception):
    """An answer other than 200, with a message and the request fields at fault."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


def _run_view(run: RunRef) -> m.RunRefView:
    return m.RunRefView(id=run.id, as_of=run.as_of.date())


def _no_run(service: Service) -> ApiError:
    return ApiError(503, f"no run of {service.loaded.name} is recorded in the state store yet: "
                         f"run `tiers run {service.loaded.file.name}` first",
                    headers={"Retry-After": "30"})


def customer_json(service: Service, customer_id: str) -> bytes:
    """The lookup's JSON: explain's explanation serialised as it stands (no per-field
    copy: this is the hot path), then the store's fields."""
    run, recorded = service.reader.customer(customer_id)
    service.seen(run)
    snap = service.snapshot
    if run is None or snap is None or snap.lookups is None:
        raise _no_run(service)
    explanation = snap.explain(customer_id)
    if explanation is None:
        if recorded is not None:
            # recorded by a run newer than the snapshot, which is being evaluated now
            raise ApiError(503, f"customer {customer_id!r} first appears in run {run.id}, "
                                "which is being evaluated; try again in a few seconds",
                           headers={"Retry-After": "5"})
        raise ApiError(404, f"customer {customer_id!r} is not in the data of "
                            f"{service.loaded.name} as of {snap.lookups.as_of:%Y-%m-%d}")
    rec = None
    if recorded is not None:
        rec = m.RecordedView(tier=recorded.tier,
                             tier_name=service.tier_names.get(recorded.tier, recorded.tier),
                             since=recorded.since, held_until=recorded.held_until,
                             segments=recorded.segments, changed_in_run=recorded.updated_run)
    extra = m.CustomerExtra(recorded=rec, latest_run=_run_view(run),
                            evaluated_run=_run_view(snap.lookups.run)).model_dump_json()
    return m.EXPLANATION.dump_json(explanation)[:-1] + b"," + extra[1:].encode()


def customer(service: Service, customer_id: str) -> m.CustomerView:
    return m.CustomerView.model_validate_json(customer_json(service, customer_id))


def _orders(service: Service, body: m.SimulateIn) -> list[Any]:
    from tiers.serve.simulate import Order

    now = dt.datetime.now()
    horizon = now + dt.timedelta(days=366)
    snap = service.snapshot
    amount_type = snap.simulator.amount_type if snap is not None else None
    scale = getattr(amount_type, "scale", None) if amount_type is not None else None
    errors = []
    orders = []
    for i, o in enumerate(body.orders):
        ts = o.order_ts if o.order_ts is not None else now
        if ts.tzinfo is not None:  # the data's timestamps carry no zone: the server's clock
            ts = ts.astimezone().replace(tzinfo=None)
        if ts > horizon:
            errors.append({"path": f"body.orders[{i}].order_ts",
                           "message": "is more than a year ahead; simulate orders placed now "
                                      "or soon"})
        exponent = o.amount.as_tuple().exponent
        if scale is not None and isinstance(exponent, int) and -exponent > scale:
            errors.append({"path": f"body.orders[{i}].amount",
                           "message": f"has more than {scale} decimal places (the orders' "
                                      f"amounts are {amount_type})"})
        orders.append(Order(o.amount, ts))
    if errors:
        raise ApiError(422, "some orders cannot be simulated", errors)
    return orders


def simulation(service: Service, customer_id: str, body: m.SimulateIn) -> m.SimulationView:
    from tiers.serve.simulate import Simulator, SimulatorClosed, simulate

    orders = _orders(service, body)
    run, recorded = service.reader.customer(customer_id)
    service.seen(run)
    snap = service.snapshot
    assert snap is not None
    if body.as_of is not None:
        as_of = dt.datetime(body.as_of.year, body.as_of.month, body.as_of.day)
        problems = []
        if run is not None and as_of < run.as_of:
            problems.append(f"is before the last recorded run ({run.as_of:%Y-%m-%d}); a "
                            "simulation starts from the state that run left")
        late = [i for i, o in enumerate(orders) if o.order_ts >= as_of]
        if late:
            problems.append(f"is not after order {late[0]}: orders at or after the as-of are "
                            "not counted; leave as_of out or choose a later day")
        if as_of > dt.datetime.now() + dt.timedelta(days=366):
            problems.append("is more than a year ahead")
        if problems:
            raise ApiError(422, "as_of cannot be used",
                           [{"path": "body.as_of", "message": p} for p in problems])
    else:
        as_of = Simulator.default_as_of(run, orders)
    for _ in range(3):
        try:
            result = simulate(snap.simulator, customer_id, orders, recorded, as_of)
            break
        except SimulatorClosed:  # a new run's snapshot replaced this one meanwhile
            snap = service.snapshot
            assert snap is not None
    else:
        raise ApiError(503, "the server is loading a new run; try again",
                       headers={"Retry-After": "5"})
    if result is None:
        raise ApiError(404, f"customer {customer_id!r} is not in the data of "
                            f"{service.loaded.name} and no orders were given")
    e = result.explanation
    return m.SimulationView(
        customer_id=customer_id, as_of=result.as_of.date(),
        orders=[m.OrderOut(amount=o.amount, order_ts=o.order_ts) for o in orders],
        tier=e.tier, tier_name=e.tier_label, tier_event=e.tier_event,
        previous_tier=e.previous_tier, segments=e.segments,
        events=[m.EventView(**ev) for ev in e.events], population=result.population,
        explanation=m.ExplanationView(**e.to_json()))


def distribution(service: Service) -> m.DistributionView:
    run, counts = service.distribution()
    total = sum(counts.values())
    known = [t.id for t in service.loaded.model.tiers]
    # a tier renamed since the run still shows, after the ladder
    ids = known + sorted(t for t in counts if t not in known)
    tiers = [m.TierCount(tier=t, name=service.tier_names.get(t, t), customers=counts.get(t, 0),
                         share=counts.get(t, 0) / total if total else 0.0) for t in ids]
    return m.DistributionView(run=_run_view(run) if run is not None else None,
                              customers=total, tiers=tiers)


def runs(service: Service, limit: int) -> m.RunsView:
    rows = service.reader.runs(limit)
    return m.RunsView(runs=[m.RunView(**{**r, "as_of": r["as_of"].date()}) for r in rows])


def health(service: Service) -> tuple[int, m.HealthView]:
    if service.reader.ping():
        return 200, m.HealthView(status="ok", store="reachable")
    return 503, m.HealthView(status="degraded", store="unreachable")
