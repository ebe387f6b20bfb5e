"""Every action gets the circuit breaker from the framework: outside plugins, store-only
actions, actions that take several intents before their outcomes, and own-fault failures."""

from __future__ import annotations

import socket
from typing import ClassVar

from tiers import Action, ActionConfig, Outcome, hookimpl

LADDER = {"tiers": [{"id": "normal"}, {"id": "senior"}, {"id": "vip"}],
          "policies": [{"type": "spend", "thresholds": {"senior": 1000, "vip": 5000}}]}
ORDERS = [{"customer_id": f"c{i:02d}", "order_ts": "2026-01-01", "amount": 6000}
          for i in range(12)]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: connections refused


class Dialer(Action):
    """Connects to a port per intent; fails when nobody listens."""

    name = "dialer"
    port: ClassVar[int] = 0
    calls: ClassVar[list[str]] = []

    def apply(self, intents, ctx):
        for intent in intents:
            self.calls.append(intent.customer_id)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
            except OSError as exc:
                yield Outcome(intent.key, "failed", error=f"dial: {exc}")
            else:
                yield Outcome(intent.key, "done")


class Grouped(Dialer):
    """Takes three intents, then gives their three outcomes (like a batched webhook)."""

    name = "grouped"

    def apply(self, intents, ctx):
        group = []
        for intent in intents:
            group.append(intent)
            self.calls.append(intent.customer_id)
            if len(group) == 3:
                yield from (Outcome(i.key, "failed", error="group refused") for i in group)
                group = []
        yield from (Outcome(i.key, "failed", error="group refused") for i in group)


class Ledgerish(Action):
    """A store-only action whose every write fails."""

    name = "ledgerish"
    external = False
    batch_size = 4
    calls: ClassVar[list[str]] = []

    def apply(self, intents, ctx):
        for intent in intents:
            self.calls.append(intent.customer_id)
            yield Outcome(intent.key, "failed", error="table is read-only")


class BadData(Dialer):
    """Every intent fails on its own data: that never stops the action."""

    name = "bad_data"

    def apply(self, intents, ctx):
        for intent in intents:
            self.calls.append(intent.customer_id)
            yield Outcome(intent.key, "failed", error="bad address", own_fault=True)


class Plugin:
    @staticmethod
    @hookimpl
    def register_actions(register):
        for cls in (Dialer, Grouped, Ledgerish, BadData):
            register(cls)


def ruleset(type_: str, **options: object) -> dict:
    return {**LADDER, "actions": [{"type": type_, "id": "act", "when": {"tier": "vip"},
                                   **options}]}


def test_outside_plugin_stops_after_five_then_the_rest_resumes(tiers_runner):
    Dialer.calls, Dialer.port = [], closed_port()
    tiers_runner.register(Plugin)
    first = tiers_runner.apply(ruleset("dialer"), as_of="2026-02-01", orders=ORDERS)
    (stats,) = first.applied.actions
    assert (stats.failed, stats.stopped, len(Dialer.calls)) == (5, 7, 5)
    assert "dialer stopped after 5 consecutive failures; 7 intents left pending for the next " \
           "run" in stats.notes
    with socket.socket() as server:  # the endpoint is back
        server.bind(("127.0.0.1", 0))
        server.listen(50)
        Dialer.port, Dialer.calls = server.getsockname()[1], []
        second = tiers_runner.apply(ruleset("dialer"), as_of="2026-02-01", orders=ORDERS)
    assert (second.applied.done, second.applied.stopped) == (12, 0)
    assert sorted(Dialer.calls) == [o["customer_id"] for o in ORDERS]  # each once


def test_intents_taken_in_a_group_all_get_their_outcome(tiers_runner):
    Grouped.calls = []
    tiers_runner.register(Plugin)
    result = tiers_runner.apply(ruleset("grouped"), as_of="2026-02-01", orders=ORDERS)
    (stats,) = result.applied.actions
    # groups of 3: the 5th failure comes in the 2nd group, whose 6th intent still gets its own
    assert (stats.failed, stats.stopped, len(Grouped.calls)) == (6, 6, 6)
    assert stats.errors == ["group refused"]  # no "gave no outcome" for a taken intent


def test_store_only_actions_stop_between_batches(tiers_runner):
    Ledgerish.calls = []
    tiers_runner.register(Plugin)
    result = tiers_runner.apply(ruleset("ledgerish", stop_after_failures=3),
                                as_of="2026-02-01", orders=ORDERS)
    (stats,) = result.applied.actions
    assert (stats.failed, stats.stopped, len(Ledgerish.calls)) == (4, 8, 4)  # one batch of 4


def test_failures_of_the_intents_own_data_never_stop_the_action(tiers_runner):
    BadData.calls = []
    tiers_runner.register(Plugin)
    result = tiers_runner.apply(ruleset("bad_data"), as_of="2026-02-01", orders=ORDERS)
    (stats,) = result.applied.actions
    assert (stats.failed, stats.stopped, len(BadData.calls)) == (12, 0, 12)


def test_the_option_is_part_of_every_action_config():
    assert ActionConfig().stop_after_failures == 5
    assert ActionConfig(stop_after_failures=0).stop_after_failures == 0
