"""tiers.testing: the helpers plugin authors and this project's tests use."""

from __future__ import annotations

import decimal

import pyarrow as pa
import pytest

from tiers import Action, Outcome, PluginError, hookimpl
from tiers.testing import RulesetRunner, assert_tiers, tiers_by_customer

LADDER = {"tiers": [{"id": "normal"}, {"id": "senior"}, {"id": "vip"}],
          "policies": [{"type": "spend", "thresholds": {"senior": 1000, "vip": 5000}}]}


def test_fixture_is_registered_by_the_pytest11_entry_point(request):
    plugin = request.config.pluginmanager.get_plugin("tiers")
    assert plugin is not None and plugin.__name__ == "tiers.testing"
    assert isinstance(request.getfixturevalue("tiers_runner"), RulesetRunner)


def test_memtable_rows_with_decimals_dates_and_refunds(tiers_runner):
    result = tiers_runner.run(LADDER, as_of="2026-07-01", orders=[
        {"customer_id": "a", "order_ts": "2026-03-01 10:00", "amount": decimal.Decimal("999.99")},
        {"customer_id": "a", "order_ts": "2026-04-01", "amount": decimal.Decimal("0.01")},
        {"customer_id": "b", "order_ts": "2026-05-01", "amount": 6000},
        {"customer_id": "b", "order_ts": "2026-05-02", "amount": -1500},
        {"customer_id": "c", "order_ts": "2026-07-01", "amount": 9000},  # at as-of: excluded
    ], customers=[{"customer_id": "c"}, {"customer_id": "d"}])
    assert_tiers(result, {"a": "senior", "b": "senior", "c": "normal", "d": "normal"},
                 exact=True)
    spend = dict(zip(result.table["customer_id"].to_pylist(),
                     result.table["spend"].to_pylist(), strict=True))
    assert spend["a"] == decimal.Decimal("1000.00")
    assert spend["b"] == decimal.Decimal("4500.00")


def test_tables_can_be_pyarrow(tiers_runner):
    orders = pa.table({"customer_id": ["x", "y"], "order_ts": ["2026-01-01", "2026-01-02"],
                       "amount": [5000.0, 10.0]})
    result = tiers_runner.run(LADDER, as_of="2026-02-01", orders=orders)
    assert tiers_by_customer(result) == {"x": "vip", "y": "normal"}


def test_empty_table_needs_types(tiers_runner):
    problems = tiers_runner.problems(LADDER, orders=[])
    assert len(problems) == 1
    assert "sources.orders.rows: a memtable needs `rows` (or `types` for an empty table)" \
        in problems[0]
    ruleset = {**LADDER, "sources": {"orders": {"type": "memtable", "types": {
        "customer_id": "string", "order_ts": "timestamp", "amount": "decimal(18, 2)"}}},
        "customers": {"type": "memtable", "rows": [{"customer_id": "solo"}]}}
    ruleset["sources"]["customers"] = ruleset.pop("customers")
    assert_tiers(tiers_runner.run(ruleset, as_of="2026-01-01"), {"solo": "normal"}, exact=True)


def test_missing_required_column_is_located(tiers_runner):
    problems = tiers_runner.problems(LADDER, orders=[{"customer_id": "a", "amount": 1}])
    assert "sources.orders.rows: the orders table needs column(s) order_ts" in problems[0]


def test_problems_carry_the_written_file_and_line(tiers_runner):
    bad = {**LADDER, "policies": [{"type": "spend", "thresholds": {"gold": 1}}]}
    problems = tiers_runner.problems(bad, orders=[
        {"customer_id": "a", "order_ts": "2026-01-01", "amount": 1}])
    assert len(problems) == 1
    assert "ruleset_1.yaml:" in problems[0]
    assert "policies[0].thresholds.gold: tier 'gold' is referenced but not defined" in problems[0]


def test_problems_fails_when_the_ruleset_is_valid(tiers_runner):
    with pytest.raises(AssertionError, match="the ruleset is valid"):
        tiers_runner.problems(LADDER, orders=[
            {"customer_id": "a", "order_ts": "2026-01-01", "amount": 1}])


def test_assert_tiers_lists_every_mismatch_with_metrics(tiers_runner):
    result = tiers_runner.run(LADDER, as_of="2026-02-01", orders=[
        {"customer_id": "a", "order_ts": "2026-01-01", "amount": 1200},
        {"customer_id": "b", "order_ts": "2026-01-01", "amount": 10}])
    with pytest.raises(AssertionError) as info:
        assert_tiers(result, {"a": "vip", "b": "normal", "zed": "vip"}, exact=True)
    message = str(info.value)
    assert "customer 'a': expected 'vip', got 'senior' (spend=1200.00, orders=1" in message
    assert "customer 'zed': expected 'vip', got '<no such customer>'" in message
    assert "customer 'b'" not in message
    with pytest.raises(AssertionError, match="unexpected customers: b"):
        assert_tiers(result, {"a": "senior"}, exact=True)


def test_evaluation_is_lazy_and_readable(tiers_runner):
    evaluation = tiers_runner.evaluate(LADDER, as_of="2026-02-01", orders=[
        {"customer_id": "a", "order_ts": "2026-01-01", "amount": 6000}])
    assert tiers_by_customer(evaluation) == {"a": "vip"}


class Recorder(Action):
    """An action whose apply would leave a trace: planning must never call it."""

    name = "recorder"
    applied: list[str] = []  # noqa: RUF012

    def apply(self, intents, ctx):
        self.applied.append("applied")
        for intent in intents:
            yield Outcome(intent.key, "done")


class RecorderPlugin:
    @staticmethod
    @hookimpl
    def register_actions(register):
        register(Recorder)


class EagerRecorder(Recorder):
    name = "eager"

    def plan(self, inp):
        self.apply([], None)
        return super().plan(inp)


class EagerPlugin:
    @staticmethod
    @hookimpl
    def register_actions(register):
        register(EagerRecorder)


def test_plan_captures_intents_without_applying(tiers_runner):
    tiers_runner.register(RecorderPlugin)
    ruleset = {**LADDER, "actions": [{"type": "recorder", "id": "vip_welcome",
                                      "when": {"tier": "vip"}}]}
    planned = tiers_runner.plan(ruleset, as_of="2026-02-01", orders=[
        {"customer_id": "a", "order_ts": "2026-01-01", "amount": 6000},
        {"customer_id": "b", "order_ts": "2026-01-01", "amount": 60}])
    rows = planned["vip_welcome"].to_pylist()
    assert [(r["customer_id"], r["event"], r["detail"]) for r in rows] == [("a", "tier", "vip")]
    assert Recorder.applied == []


def test_apply_goes_through_the_ledger_once(tiers_runner):
    Recorder.applied = []
    tiers_runner.register(RecorderPlugin)
    ruleset = {**LADDER, "actions": [{"type": "recorder", "when": {"tier": "vip"}}]}
    orders = [{"customer_id": "a", "order_ts": "2026-01-01", "amount": 6000}]
    first = tiers_runner.apply(ruleset, as_of="2026-02-01", orders=orders)
    assert (first.applied.done, Recorder.applied) == (1, ["applied"])
    again = tiers_runner.apply(ruleset, as_of="2026-02-01", orders=orders)
    assert (again.applied.done, Recorder.applied) == (0, ["applied"])


def test_plan_catches_an_action_that_acts_while_planning(tiers_runner):
    tiers_runner.register(EagerPlugin)
    ruleset = {**LADDER, "actions": [{"type": "eager", "when": {"tier": "vip"}}]}
    with pytest.raises(AssertionError, match="action 'eager' called apply\\(\\) while planning"):
        tiers_runner.plan(ruleset, as_of="2026-02-01", orders=[
            {"customer_id": "a", "order_ts": "2026-01-01", "amount": 6000}])


class OldShape(Action):
    """An action written for tiers 0.1: apply(intents) returning a count."""

    name = "old_shape"

    def apply(self, intents):
        return 0


class NoApply(Action):
    name = "no_apply"


class ActionsPlugin:
    @staticmethod
    @hookimpl
    def register_actions(register):
        register(OldShape)
        register(NoApply)


@pytest.mark.parametrize(("type_", "why"), [
    ("old_shape", "OldShape.apply takes 1 argument(s); the action contract is "
                  "apply(self, intents, ctx)"),
    ("no_apply", "NoApply does not implement apply(intents, ctx)"),
])
def test_an_action_the_framework_cannot_run_is_a_load_error(tiers_runner, type_, why):
    tiers_runner.register(ActionsPlugin)
    ruleset = {**LADDER, "actions": [{"type": type_, "when": {"tier": "vip"}}]}
    problems = tiers_runner.problems(ruleset, orders=[
        {"customer_id": "a", "order_ts": "2026-01-01", "amount": 6000}])
    assert len(problems) == 1
    assert f"actions[0].type: action type {type_!r} cannot be run: action {why}" in problems[0]
    assert "fix: update the plugin to the action contract" in problems[0]


def test_runner_is_strict_about_broken_plugins(tiers_runner):
    class Broken:
        @staticmethod
        @hookimpl
        def register_policies(register, nope):
            pass

    tiers_runner.register(Broken)
    with pytest.raises(PluginError, match="asks for 'nope', which the hook does not pass"):
        tiers_runner.load(LADDER)


def test_yaml_text_rulesets(tiers_runner, tmp_path):
    (tmp_path / "o.csv").write_text("customer_id,order_ts,amount\nq,2026-01-01,5000\n")
    result = tiers_runner.run(f"""
name: text
sources: {{orders: {{type: csv, path: {tmp_path / 'o.csv'}}}}}
tiers: [{{id: normal}}, {{id: vip}}]
policies: [{{type: spend, thresholds: {{vip: 5000}}}}]
""", as_of="2026-02-01")
    assert_tiers(result, {"q": "vip"})
