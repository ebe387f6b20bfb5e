"""The webhook action against a real HTTP server on 127.0.0.1."""

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
        "actions": [{"type": "webhook_notify", "url": url, "tiers": ["vip"], **options}],
    }


ORDERS = [{"customer_id": c, "order_ts": "2026-01-02", "amount": a}
          for c, a in (("a", 1500), ("b", 20), ("c", 1000))]


def test_plan_builds_messages_without_sending(tiers_runner, webhook):
    tiers_runner.register(webhook_notify)
    planned = tiers_runner.plan(ruleset(webhook, text="$$5 off for $tier_name $customer_id"),
                                orders=ORDERS, as_of="2026-06-01")
    assert planned["webhook_notify"].to_pylist() == [
        {"key": "shop:webhook_notify:a:vip", "customer_id": "a", "tier": "vip",
         "text": "$5 off for VIP a"},
        {"key": "shop:webhook_notify:c:vip", "customer_id": "c", "tier": "vip",
         "text": "$5 off for VIP c"},
    ]
    assert Receiver.received == []


def test_apply_posts_each_intent_with_its_key(tiers_runner, webhook):
    tiers_runner.register(webhook_notify)
    planned = tiers_runner.plan(ruleset(webhook), orders=ORDERS, as_of="2026-06-01")
    action = tiers_runner.load(ruleset(webhook), orders=ORDERS).actions[0]
    assert action.apply(planned["webhook_notify"]) == 2
    assert Receiver.received == [
        ("shop:webhook_notify:a:vip", {"text": "Customer a is now VIP"}),
        ("shop:webhook_notify:c:vip", {"text": "Customer c is now VIP"}),
    ]


def test_refusal_names_the_host_not_the_secret_url(tiers_runner, webhook):
    Receiver.status = 500
    tiers_runner.register(webhook_notify)
    planned = tiers_runner.plan(ruleset(webhook), orders=ORDERS, as_of="2026-06-01")
    action = tiers_runner.load(ruleset(webhook), orders=ORDERS).actions[0]
    with pytest.raises(webhook_notify.WebhookError) as info:
        action.apply(planned["webhook_notify"])
    message = info.value.render()
    assert "answered 500 for shop:webhook_notify:a:vip; 0 of 2 sent" in message
    assert "SECRET" not in message
    assert len(Receiver.received) == 1


def test_bad_template_tier_and_url_are_located(tiers_runner):
    tiers_runner.register(webhook_notify)
    problems = tiers_runner.problems(
        {**ruleset("hooks.slack.com/x", text="Hi $name"),
         "actions": [{"type": "webhook_notify", "url": "hooks.slack.com/x",
                      "tiers": ["gold"], "text": "Hi $name"}]}, orders=ORDERS)
    joined = "\n".join(problems)
    assert "actions[0].tiers[0]: tier 'gold' is not defined" in joined
    assert "actions[0].text: bad message template: unknown field $name" in joined
    assert "actions[0].url: the webhook URL must start with https://" in joined


def test_installed_through_the_entry_point():
    assert installed_component("action", "webhook_notify") is \
        webhook_notify.WebhookNotifyAction
