"""POST /v1/customers/{id}/simulate gives what the engine gives on the data with those orders
added: each answer is checked against `tiers explain` on a copy of the data that really holds
the extra orders, evaluated against the same recorded state."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from .test_serve_process import (
    record_run,
    retail,  # noqa: F401 - fixture
    server,  # noqa: F401 - fixture
    start_server,
    workspace,
)

AS_OF = "2026-11-21"


def with_orders(ruleset: Path, tmp: Path, orders: list[tuple[str, str, str]]) -> Path:
    """A copy of ``ruleset`` and its data whose orders.csv also holds ``orders``
    (customer_id, ordered_at, amount)."""
    copy = tmp / "with-orders"
    shutil.copytree(ruleset.parent, copy, ignore=shutil.ignore_patterns(".tiers", "*.log"))
    path = copy / "data" / "retail" / "orders.csv"
    with open(path, "a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        for i, (cid, ts, amount) in enumerate(orders):
            w.writerow([f"SIM{i:04d}", cid, ts, amount])
    return copy / ruleset.name


def explained(cli, ruleset: Path, customer_id: str, state_of: Path, as_of: str = AS_OF
              ) -> dict:
    url = f"sqlite:///{state_of.parent / '.tiers' / 'state.db'}"
    res = cli("explain", ruleset, customer_id, "--as-of", as_of, "--format", "json",
              "--state", url)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


CASES = [
    # an existing member crossing the senior threshold with one order
    ("C00001", [("2026-11-20 10:00:00", "900")]),
    # several orders and a refund
    ("C00002", [("2026-11-19 09:30:00", "120.50"), ("2026-11-20 18:00:00", "-50"),
                ("2026-11-20 18:05:00", "1999.99")]),
    # a new member's first order
    ("NEW-MEMBER-7", [("2026-11-20 12:00:00", "5200")]),
]


def test_simulation_equals_the_engine_on_data_with_the_orders(server, retail, cli,  # noqa: F811
                                                               tmp_path):
    rows = [(cid, ts, amount) for cid, orders in CASES for ts, amount in orders]
    copy = with_orders(retail, tmp_path, rows)
    with server.client() as c:
        for cid, orders in CASES:
            body = {"as_of": AS_OF, "orders": [
                {"amount": amount, "order_ts": ts.replace(" ", "T")} for ts, amount in orders]}
            res = c.post(f"/v1/customers/{cid}/simulate", json=body)
            assert res.status_code == 200, res.text
            sim = res.json()
            truth = explained(cli, copy, cid, retail)
            assert sim["explanation"] == truth
            assert (sim["tier"], sim["tier_name"], sim["tier_event"]) == (
                truth["tier"], truth["tier_label"], truth["tier_event"])
            assert sim["segments"] == truth["segments"]
            assert sim["events"] == truth["events"]
            assert sim["as_of"] == AS_OF and sim["population"] is False
    # the cases do move tiers, so the comparison is not between two unchanged answers
    assert truth["tier"] == "vip" and truth["tier_event"] == "entered"


def test_simulation_starts_from_the_recorded_state(server, retail):  # noqa: F811
    with server.client() as c:
        before = c.get("/v1/customers/C00001").json()
        sim = c.post("/v1/customers/C00001/simulate",
                     json={"as_of": AS_OF, "orders": [{"amount": 900,
                                                        "order_ts": "2026-11-20T10:00:00"}]}
                     ).json()
    assert before["recorded"]["tier"] == "normal"
    assert sim["previous_tier"] == "normal"
    assert (sim["tier"], sim["tier_event"]) == ("senior", "upgraded")
    assert {"event": "upgraded", "detail": "senior"} in sim["events"]
    assert sim["explanation"]["metrics"]["spend"] == pytest.approx(
        before["metrics"]["spend"] + 900)


def test_an_order_without_a_time_is_placed_now(server):  # noqa: F811
    with server.client() as c:
        started = dt.datetime.now()
        sim = c.post("/v1/customers/C00003/simulate", json={"orders": [{"amount": 10}]}).json()
    placed = dt.datetime.fromisoformat(sim["orders"][0]["order_ts"])
    assert started - dt.timedelta(seconds=5) <= placed <= dt.datetime.now()
    # the first daily evaluation that counts it
    assert sim["as_of"] == (started.date() + dt.timedelta(days=1)).isoformat()
    assert sim["orders"][0]["amount"] == 10
    assert sim["explanation"]["metrics"]["recency_days"] == 0


def test_a_zoned_time_is_read_on_the_data_clock(server):  # noqa: F811
    zoned = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with server.client() as c:
        sim = c.post("/v1/customers/C00003/simulate",
                     json={"orders": [{"amount": 10, "order_ts": zoned.isoformat()}]}).json()
    local = zoned.astimezone().replace(tzinfo=None)
    assert dt.datetime.fromisoformat(sim["orders"][0]["order_ts"]) == local


RFM_RULESET = """\
name: retail_rfm
currency: CNY
as_of: 2026-11-21
sources:
  orders:
    type: csv
    path: data/retail/orders.csv
    columns: {order_ts: ordered_at}
  customers:
    type: csv
    path: data/retail/customers.csv
window: {kind: rolling, days: 365}
tiers:
  - {id: normal, name: 普通会员}
  - {id: senior, name: 高级会员}
  - {id: vip, name: VIP会员}
policies:
  - type: spend
    thresholds: {senior: 1000, vip: 5000}
  - type: rfm
  - type: lifecycle
"""


def test_rulesets_comparing_customers_simulate_over_everyone(tmp_path, cli):
    """RFM quintiles depend on every customer's metrics: one customer's rows cannot give
    them, so the simulation evaluates everyone, and still equals the engine."""
    base = tmp_path / "base"
    base.mkdir()
    workspace(base)
    ruleset = base / "retail.yaml"
    ruleset.write_text(RFM_RULESET, encoding="utf-8")
    record_run(ruleset)
    orders = [("C00001", "2026-11-20 10:00:00", "3000"), ("C00001", "2026-11-20 11:00:00", "80")]
    copy = with_orders(ruleset, tmp_path, orders)
    s = start_server(ruleset)
    try:
        with s.client() as c:
            res = c.post("/v1/customers/C00001/simulate", json={"as_of": AS_OF, "orders": [
                {"amount": a, "order_ts": t.replace(" ", "T")} for _, t, a in orders]})
            plain = c.get("/v1/customers/C00001").json()
    finally:
        s.stop()
    assert res.status_code == 200, res.text
    sim = res.json()
    assert sim["population"] is True
    truth = explained(cli, copy, "C00001", ruleset)
    assert sim["explanation"] == truth
    # the new orders move the customer's RFM scores, which a one-customer evaluation
    # (every score 1) would get wrong
    assert sim["segments"] != plain["segments"]
    assert any(r.startswith("R=5 F=") for r in truth["segment_reasons"])


def test_concurrent_simulations_keep_to_their_own_customer(server):  # noqa: F811
    """Simulations run side by side on separate DuckDB cursors: each answer is the one the
    same request gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    requests = [(f"C{i:05d}", {"as_of": AS_OF, "orders": [
        {"amount": 100 * i, "order_ts": "2026-11-20T10:00:00"}]}) for i in range(1, 13)]
    with server.client() as c:
        alone = [c.post(f"/v1/customers/{cid}/simulate", json=body).json()
                 for cid, body in requests]

    def one(item):
        cid, body = item
        with server.client() as c:
            return c.post(f"/v1/customers/{cid}/simulate", json=body).json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(one, requests * 2))
    assert together == alone * 2
    assert len({a["explanation"]["metrics"]["spend"] for a in alone}) == len(alone)


def test_a_replaced_snapshot_never_leaves_a_simulation_waiting(retail):  # noqa: F811
    """When a new run's snapshot replaces the old one, the old simulator is closed; a
    simulation that still holds it is refused at once (and the view retries on the current
    snapshot) instead of waiting forever for its cursors."""
    from tiers.serve import models, views
    from tiers.serve.engine import load_ruleset
    from tiers.serve.service import Service
    from tiers.serve.simulate import Order, SimulatorClosed, simulate
    from tiers.serve.state import StoreReader

    loaded = load_ruleset(retail)
    reader = StoreReader(f"sqlite:///{retail.parent / '.tiers' / 'state.db'}", loaded.name)
    service = Service(loaded, reader)
    old = service.load()
    old.close()
    order = Order(amount=Decimal("900"),
                  order_ts=dt.datetime(2026, 11, 20, 10))
    with pytest.raises(SimulatorClosed):
        simulate(old.simulator, "C00001", [order], None, dt.datetime(2026, 11, 21))
    body = models.SimulateIn.model_validate({"as_of": AS_OF, "orders": [
        {"amount": 900, "order_ts": "2026-11-20T10:00:00"}]})
    with pytest.raises(views.ApiError) as refused:
        views.simulation(service, "C00001", body)   # only the closed snapshot exists
    assert refused.value.status == 503
    service.load()                                   # the replacement
    assert views.simulation(service, "C00001", body).tier == "senior"
    service.snapshot.close()
    reader.dispose()
