"""The webhook action against a real HTTP server on 127.0.0.1, through the same planning,
ledger and apply steps as `tiers run`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tiers_crm import webhook_notify

from tiers.testing import installed_component


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []  # noqa: RUF012
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.headers["Idempotency-Key"], body))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Receiver.received = []
    Receiver.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/SECRET"
    server.shutdown()
    server.server_close()


def ruleset(url, **options):
    return {
        "name": "shop",
        "tiers": [{"id": "normal", "name": "Member"}, {"id": "vip", "name": "VIP"}],
        "policies": [{"type": "spend", "thresholds": {"vip": 1000}}],
        "actions": [{"type": "webhook_notify", "url": url, "when": {"tier": "vip"},
                     **options}],
    }


ORDERS = [{"customer_id": c, "order_ts": "2026-01-02", "amount": a}
          for c, a in (("a", 1500), ("b", 20), ("c", 1000))]


def test_plan_builds_messages_without_sending(tiers_runner, webhook):
    tiers_runner.register(webhook_notify)
    planned = tiers_runner.plan(ruleset(webhook, text="$$5 off for $tier_name $customer_id"),
                                orders=ORDERS, as_of="2026-06-01")
    rows = planned["webhook_notify"].to_pylist()
    assert [(r["customer_id"], json.loads(r["payload"])["text"]) for r in rows] == [
        ("a", "$5 off for VIP a"), ("c", "$5 off for VIP c")]
    assert Receiver.received == []


def test_each_intent_is_posted_once_with_its_key(tiers_runner, webhook):
    tiers_runner.register(webhook_notify)
    planned = tiers_runner.plan(ruleset(webhook), orders=ORDERS, as_of="2026-06-01")
    keys = planned["webhook_notify"]["key"].to_pylist()
    first = tiers_runner.apply(ruleset(webhook), orders=ORDERS, as_of="2026-06-01")
    assert first.applied.done == 2
    assert Receiver.received == [(keys[0], {"text": "Customer a is now VIP"}),
                                 (keys[1], {"text": "Customer c is now VIP"})]
    again = tiers_runner.apply(ruleset(webhook), orders=ORDERS, as_of="2026-06-01")
    assert again.applied.done == 0
    assert len(Receiver.received) == 2


def test_refusal_fails_the_intents_names_the_host_not_the_secret_url(tiers_runner, webhook):
    Receiver.status = 500
    tiers_runner.register(webhook_notify)
    result = tiers_runner.apply(ruleset(webhook), orders=ORDERS, as_of="2026-06-01")
    stats = result.applied.actions[0]
    assert (stats.done, stats.failed) == (0, 2)
    assert stats.errors == [f"webhook at {webhook.split('/')[2]} answered 500"]
    assert "SECRET" not in " ".join(stats.errors)
    Receiver.status = 200
    retried = tiers_runner.apply(ruleset(webhook), orders=ORDERS, as_of="2026-06-01")
    assert retried.applied.done == 2  # the next run tries the failed intents again


def test_bad_template_tier_and_url_are_located(tiers_runner):
    tiers_runner.register(webhook_notify)
    problems = tiers_runner.problems(
        {**ruleset("hooks.slack.com/x", text="Hi $name"),
         "actions": [{"type": "webhook_notify", "url": "hooks.slack.com/x",
                      "when": {"tier": "gold"}, "text": "Hi $name"}]}, orders=ORDERS)
    joined = "\n".join(problems)
    assert "actions[0].when.tier: unknown tier 'gold'" in joined
    assert "actions[0].text: bad message template: unknown field $name" in joined
    assert "actions[0].url: the webhook URL must start with https://" in joined


def test_installed_through_the_entry_point():
    assert installed_component("action", "webhook_notify") is \
        webhook_notify.WebhookNotifyAction
