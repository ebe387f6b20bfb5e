"""The circuit breaker of apply: a dead endpoint stops its action after a few failures in a
row, the rest stays pending, and a later run applies it exactly once (real HTTP server)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import write_csv
from tests.servers import Receiver, start_http
from tests.shop import run_shop, write_shop
from tiers.store.schema import ledger

N = 20


@pytest.fixture
def http():
    receiver = Receiver()
    server, base = start_http(receiver)
    yield receiver, base
    server.shutdown()


def many_vips(folder: Path, actions: str) -> Path:
    """The shop with N VIP customers."""
    ruleset = write_shop(folder, actions)
    ids = [f"V{i:02d}" for i in range(N)]
    write_csv(folder / "data" / "customers.csv", ["customer_id", "name", "email", "locale"],
              [(c, c, f"{c.lower()}@example.com", "en") for c in ids])
    write_csv(folder / "data" / "orders.csv", ["order_id", "customer_id", "order_ts", "amount"],
              [(f"O{c}", c, "2026-05-01 10:00:00", "6000.00") for c in ids])
    return ruleset


def hook(url: str, extra: str = "") -> str:
    return f"""
        - type: webhook
          id: crm_sync
          when: {{tier: vip}}
          url: {url}
          retries: 1
          backoff: 0.01
        {extra}"""


def statuses(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ledger.c.status, sa.func.count()).group_by(
            ledger.c.status)).all()
    engine.dispose()
    return dict(rows)


def test_dead_endpoint_stops_after_five_failures_and_the_rest_resumes_once(tmp_path, http):
    receiver, base = http
    receiver.script["/hook"] = [500] * 1000  # every answer a server error
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ruleset = many_vips(tmp_path, hook(base + "/hook"))
    first = run_shop(ruleset, url)
    (stats,) = first.applied.actions
    # 5 intents (the default limit), each tried twice (retries: 1), then nothing more
    assert len(receiver.requests) == 5 * 2
    assert (stats.failed, stats.done, stats.stopped) == (5, 0, N - 5)
    assert f"webhook stopped after 5 consecutive failures; {N - 5} intents left pending " \
           "for the next run" in stats.notes
    assert statuses(url) == {"failed": 5, "pending": N - 5}

    receiver.script["/hook"] = []  # the endpoint is back
    receiver.requests.clear()
    second = run_shop(ruleset, url)
    assert second.applied.done == N and second.applied.stopped == 0
    keys = receiver.keys()
    assert len(keys) == N and len(set(keys)) == N  # every intent once, none twice
    assert statuses(url) == {"done": N}
    run_shop(ruleset, url)
    assert len(receiver.requests) == N  # and nothing again


def test_limit_is_configurable_and_zero_never_stops(tmp_path, http):
    receiver, base = http
    receiver.script["/a"] = [500] * 1000
    receiver.script["/b"] = [500] * 1000
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ruleset = many_vips(tmp_path, hook(base + "/a", "  stop_after_failures: 2\n")
                        + hook(base + "/b", "  stop_after_failures: 0\n").replace(
                            "id: crm_sync", "id: crm_all").replace("retries: 1", "retries: 0"))
    result = run_shop(ruleset, url)
    a, b = result.applied.actions
    assert (a.failed, a.stopped) == (2, N - 2)
    assert (b.failed, b.stopped) == (N, 0)
    paths = [r["path"] for r in receiver.requests]
    assert paths.count("/a") == 2 * 2 and paths.count("/b") == N


def test_a_success_between_failures_resets_the_count(tmp_path, http):
    receiver, base = http
    # 4 failing intents, one success, 4 failing, one success...: never 5 in a row
    receiver.script["/hook"] = ([500, 500] * 4 + [200]) * 4
    url = f"sqlite:///{tmp_path / 'state.db'}"
    result = run_shop(many_vips(tmp_path, hook(base + "/hook")), url)
    (stats,) = result.applied.actions
    assert stats.stopped == 0 and stats.done + stats.failed == N
    assert stats.done == 4


def test_refused_connections_stop_quickly_and_cli_says_so_with_exit_5(tmp_path, monkeypatch):
    from tiers.cli.app import build_app

    monkeypatch.setenv("COLUMNS", "200")
    ruleset = many_vips(tmp_path, hook("http://127.0.0.1:9/closed").replace(
        "backoff: 0.01", "backoff: 0.5"))
    started = time.monotonic()
    res = CliRunner().invoke(build_app(), ["run", str(ruleset)])
    elapsed = time.monotonic() - started
    assert res.exit_code == 5, res.output
    assert (f"crm_sync: webhook stopped after 5 consecutive failures; {N - 5} intents left "
            "pending for the next run") in res.output
    # 5 intents x one 0.5 s backoff (2.5 s), not all 20 (10 s): the run lets go of the lock
    assert elapsed < 9.5
    data = json.loads(CliRunner().invoke(build_app(), [
        "run", str(ruleset), "--format", "json"]).stdout)
    (action,) = data["actions"]
    assert (action["failed"], action["stopped"]) == (5, N - 5)  # the next run: 5 more tried
