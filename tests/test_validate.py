"""Every kind of ruleset mistake is reported with file, line, YAML path and a fix."""

from __future__ import annotations

import pytest

from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

ORDERS = [("customer_id", "order_ts", "amount"), ("a", "2025-01-01", "10")]

GOOD = """\
name: shop
sources:
  orders:
    type: csv
    path: orders.csv
tiers:
  - id: normal
  - id: senior
  - id: vip
policies:
  - type: spend
    thresholds:
      senior: 1000
      vip: 5000
"""


def problems(make_ruleset, registry, text, **files):
    pm, reg = registry
    files.setdefault("orders", ORDERS)
    path = make_ruleset(text, **files)
    with pytest.raises(RulesetError) as info:
        load_ruleset(path, registry=reg, pm=pm)
    return info.value.problems, path


def test_good_ruleset_loads(make_ruleset, registry):
    pm, reg = registry
    loaded = load_ruleset(make_ruleset(GOOD, orders=ORDERS), registry=reg, pm=pm)
    assert loaded.model.tier_ids() == ["normal", "senior", "vip"]
    assert [p.name for p in loaded.policies] == ["spend"]


def test_malformed_yaml_names_the_line(make_ruleset, registry):
    text = GOOD.replace("    path: orders.csv", "    path: [orders.csv")
    (p,), path = problems(make_ruleset, registry, text)
    assert p.file == str(path)
    assert p.line in (5, 6)
    assert "malformed YAML" in p.message
    assert p.hint


def test_unknown_type_suggests_and_points_to_plugins(make_ruleset, registry):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("type: spend", "type: spnd"))
    assert "unknown policy type 'spnd'" in p.message
    assert "did you mean 'spend'?" in p.hint
    assert "tiers plugins" in p.hint
    assert p.path == "policies[0].type"
    assert p.line == 11


def test_missing_required_field(make_ruleset, registry):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("name: shop\n", ""))
    assert p.message == "missing required field `name`"
    assert p.hint == "add `name:` under the top level"


def test_missing_required_component_option(make_ruleset, registry):
    text = GOOD.replace("    path: orders.csv\n", "")
    (p,), _ = problems(make_ruleset, registry, text)
    assert p.message == "missing required field `path`"
    assert p.path == "sources.orders.path"
    assert p.line == 3  # reported at the key of the mapping that lacks it


def test_wrong_value_type(make_ruleset, registry):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("vip: 5000", "vip: lots"))
    assert p.path == "policies[0].thresholds.vip"
    assert p.line == 14
    assert "expected a valid number" in p.message
    assert "'lots'" in p.message


def test_unknown_option_is_rejected_with_suggestion(make_ruleset, registry):
    text = GOOD.replace("    thresholds:", "    treshold: 1\n    thresholds:")
    (p,), _ = problems(make_ruleset, registry, text)
    assert p.message == "unknown field `treshold`"
    assert "did you mean 'thresholds'?" in p.hint


def test_thresholds_must_increase_along_the_ladder(make_ruleset, registry):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("vip: 5000", "vip: 900"))
    assert "must increase" in p.message
    assert "vip (900) is not above senior (1000)" in p.message
    assert p.line == 14


def test_undefined_tier_reference(make_ruleset, registry):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("vip: 5000", "vipp: 5000"))
    assert "tier 'vipp' is referenced but not defined" in p.message
    assert "did you mean 'vip'?" in p.hint
    assert p.path == "policies[0].thresholds.vipp"


def test_missing_data_file(make_ruleset, registry):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("orders.csv", "nope.csv"))
    assert "data file not found" in p.message and "nope.csv" in p.message
    assert p.path == "sources.orders.path"
    assert p.line == 5


def test_missing_column_in_data_file(make_ruleset, registry):
    orders = [("client", "order_ts", "amount"), ("a", "2025-01-01", "10")]
    (p,), _ = problems(make_ruleset, registry, GOOD, orders=orders)
    assert "needs a `customer_id` column" in p.message
    assert "columns: {customer_id:" in p.hint


def test_mapped_column_absent_from_header(make_ruleset, registry):
    text = GOOD.replace("    path: orders.csv", "    path: orders.csv\n    columns: {amount: 金额}")
    (p,), _ = problems(make_ruleset, registry, text)
    assert "'金额'" in p.message and "not in the header" in p.message


def test_unset_environment_variable(make_ruleset, registry, monkeypatch):
    monkeypatch.delenv("TIERS_TEST_UNSET", raising=False)
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("orders.csv", "${TIERS_TEST_UNSET}"))
    assert "TIERS_TEST_UNSET is not set" in p.message


def test_every_problem_is_reported_at_once(make_ruleset, registry):
    text = (GOOD.replace("type: spend", "type: spnd")
            .replace("orders.csv", "missing.csv")
            .replace("  - id: vip\n", "  - id: vip\n  - id: vip\n"))
    found, _ = problems(make_ruleset, registry, text)
    messages = " | ".join(p.message for p in found)
    assert "unknown policy type" in messages
    assert "data file not found" in messages
    assert "defined twice" in messages
    assert [p.line for p in found] == sorted(p.line for p in found)


def test_structure_errors_still_report_component_errors(make_ruleset, registry):
    text = GOOD.replace("name: shop\n", "").replace("type: spend", "type: spnd")
    found, _ = problems(make_ruleset, registry, text)
    assert {p.message.split(" '")[0] for p in found} >= {
        "missing required field `name`", "unknown policy type"}


def test_not_a_mapping(make_ruleset, registry):
    (p,), _ = problems(make_ruleset, registry, "- just\n- a list\n")
    assert "must be a YAML mapping" in p.message


def test_rendered_problem_has_file_line_and_fix(make_ruleset, registry):
    (p,), path = problems(make_ruleset, registry, GOOD.replace("vip: 5000", "vip: lots"))
    text = p.render()
    assert text.startswith(f"{path}:14: policies[0].thresholds.vip: ")
    assert "\n    fix: " in text
