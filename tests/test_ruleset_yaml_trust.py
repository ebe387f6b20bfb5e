"""Ruleset files are read strictly: duplicate keys, numbers that are not finite or out of
range, and files past the resource limits are located errors, never silently accepted."""

from __future__ import annotations

import resource
import time

import pytest

from tests.test_validate import GOOD, ORDERS, problems
from tiers.core.errors import RulesetError
from tiers.ruleset import limits
from tiers.ruleset.loader import load_ruleset

# -- 14.4 duplicate keys ------------------------------------------------------------------

def test_duplicate_key_in_flow_mapping_names_both_lines(make_ruleset, registry):
    text = GOOD.replace("    thresholds:\n      senior: 1000\n      vip: 5000\n",
                        "    thresholds: {senior: 1000, vip: 5000, senior: 4000}\n")
    (p,), path = problems(make_ruleset, registry, text)
    assert "duplicate key `senior`" in p.message
    assert "twice on line 12" in p.message
    assert p.file == str(path) and p.line == 12
    assert p.path == "policies[0].thresholds.senior"
    assert "remove one" in p.hint


def test_second_top_level_section_names_both_lines(make_ruleset, registry):
    text = GOOD + "policies:\n  - type: frequency\n    thresholds: {vip: 3}\n"
    (p,), _ = problems(make_ruleset, registry, text)
    assert "duplicate key `policies`" in p.message
    assert "lines 10 and 15" in p.message
    assert p.line == 15


def test_duplicate_key_in_a_list_item(make_ruleset, registry):
    text = GOOD.replace("  - id: vip\n", "  - id: vip\n    id: gold\n")
    (p,), _ = problems(make_ruleset, registry, text)
    assert "duplicate key `id`" in p.message and p.path == "tiers[2].id"


def test_duplicate_key_in_an_extended_base_names_the_base(make_ruleset, registry):
    base = make_ruleset(GOOD.replace("      vip: 5000\n", "      vip: 5000\n      vip: 6000\n"),
                        name="base.yaml", orders=ORDERS)
    child = make_ruleset("extends: base.yaml\nname: child\n", name="child.yaml")
    pm, reg = registry
    with pytest.raises(RulesetError) as info:
        load_ruleset(child, registry=reg, pm=pm)
    (p,) = info.value.problems
    assert p.file == str(base) and "lines 14 and 15" in p.message


# -- 14.5 numbers that are not finite or out of range --------------------------------------

@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.Inf"])
def test_non_finite_yaml_numbers_are_refused_anywhere(make_ruleset, registry, value):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("vip: 5000", f"vip: {value}"))
    assert f"`{value}` is not a finite number" in p.message
    assert p.line == 14


@pytest.mark.parametrize("where,text,expect", [
    ("policies[0].thresholds.vip", "vip: -5000", "greater than or equal to 0"),
    ("policies[0].thresholds.vip", "vip: '1.0e999'", "finite number"),
    ("policies[0].thresholds.vip", "vip: 'nan'", "finite number"),
])
def test_threshold_out_of_range(make_ruleset, registry, where, text, expect):
    (p,), _ = problems(make_ruleset, registry, GOOD.replace("vip: 5000", text))
    assert p.path == where and expect in p.message and p.line == 14


POLICY = GOOD.split("policies:")[0] + "policies:\n{policy}\n"


@pytest.mark.parametrize("policy,where,expect", [
    ("  - {type: points, per: 100, multipliers: {vip: -2}}", "multipliers.vip", ">= 0"),
    ("  - {type: points, per: 'inf'}", "per", "finite"),
    ("  - {type: points, per: 100, thresholds: {vip: -1}}", "thresholds.vip", ">= 0"),
    ("  - {type: bands, metric: spend, bands: [{tier: vip, min: 'nan'}]}", "bands[0].min",
     "finite"),
    ("  - {type: bands, metric: spend, step: -1, bands: [{tier: vip, min: 1}]}", "step",
     "greater than 0"),
    ("  - {type: score, cutoffs: {vip: 0.5}, components: [{metric: spend, weight: 'inf'}]}",
     "components[0].weight", "finite"),
    ("  - {type: rfm, method: edges, edges: {recency: [30, 90, -1, 365]}}", "edges.recency[2]",
     ">= 0"),
])
def test_policy_numbers_out_of_range(make_ruleset, registry, policy, where, expect):
    found, _ = problems(make_ruleset, registry, POLICY.format(policy=policy))
    paths = {p.path: p for p in found}
    assert f"policies[0].{where}" in paths, [p.render() for p in found]
    p = paths[f"policies[0].{where}"]
    assert p.line == 11
    assert expect.replace(">=", "greater than or equal to") in p.message or expect in p.message


def test_metric_default_must_be_finite(make_ruleset, registry):
    text = GOOD + "metrics:\n  - {id: biggest, table: orders, agg: max, column: amount, " \
                  "default: '-inf'}\n"
    found, _ = problems(make_ruleset, registry, text)
    assert any(p.path == "metrics[0].default" and "finite" in p.message for p in found)


# -- 14.10 resource limits ----------------------------------------------------------------

BOMB = "".join(
    f"{a}: &{a} [{', '.join([f'*{b}'] * 9) if b else ', '.join(['lol'] * 9)}]\n"
    for a, b in zip("abcdefghi", ["", *"abcdefgh"], strict=True))


def test_alias_bomb_is_refused_quickly_and_small(make_ruleset, registry):
    path = make_ruleset(GOOD + BOMB, orders=ORDERS)
    pm, reg = registry
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(RulesetError) as info:
        load_ruleset(path, registry=reg, pm=pm)
    elapsed = time.perf_counter() - start
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    (p,) = info.value.problems
    assert f"more than {limits.MAX_NODES:,} values" in p.message
    assert "Limits" in p.hint and p.file == str(path)
    assert elapsed < 0.5
    assert grown_kb < 50_000


def test_too_many_alias_uses(make_ruleset, registry):
    extra = "x: &x 1\ny: [" + ", ".join(["*x"] * (limits.MAX_ALIASES + 1)) + "]\n"
    (p,), _ = problems(make_ruleset, registry, GOOD + extra)
    assert f"more than {limits.MAX_ALIASES:,} `*alias` uses" in p.message and p.line == 16


def test_nesting_depth(make_ruleset, registry):
    deep = "deep: " + "[" * (limits.MAX_DEPTH + 5) + "]" * (limits.MAX_DEPTH + 5) + "\n"
    (p,), _ = problems(make_ruleset, registry, GOOD + deep)
    assert f"nested more than {limits.MAX_DEPTH} levels" in p.message


def test_very_deep_nesting_is_a_clean_error(make_ruleset, registry):
    deep = "deep: " + "[" * 5000 + "]" * 5000 + "\n"
    (p,), _ = problems(make_ruleset, registry, GOOD + deep)
    assert "nested more than" in p.message


def test_scalar_size(make_ruleset, registry):
    text = GOOD.replace("name: shop", "name: shop\ndescription: " +
                        "x" * (limits.MAX_SCALAR_CHARS + 1))
    (p,), _ = problems(make_ruleset, registry, text)
    assert "characters (the limit is" in p.message and p.line == 2


def test_file_size(make_ruleset, registry):
    pad = ("# " + "x" * 98 + "\n") * (limits.MAX_FILE_BYTES // 100 + 1)
    (p,), path = problems(make_ruleset, registry, GOOD + pad)
    assert "bytes (the limit is" in p.message and p.file == str(path)


def test_limits_are_documented():
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "rulesets.md").read_text(encoding="utf-8")
    section = doc.split("## Limits", 1)[1]
    for value in (limits.MAX_FILE_BYTES, limits.MAX_DEPTH, limits.MAX_ALIASES,
                  limits.MAX_NODES, limits.MAX_SCALAR_CHARS, limits.MAX_NAME_CHARS):
        assert f"{value:,}" in section


@pytest.mark.parametrize("options,where,expect", [
    ("value: -5", "value", "greater than 0"),
    ("value: 0", "value", "greater than 0"),
    ("value: {vip: 20, senior: -1}", "value", "greater than 0"),
    ("value: 'nan'", "value", "finite"),
    ("value: 20, budget: -100", "budget", "greater than 0"),
    ("value: 20, budget: 'inf'", "budget", "finite"),
    ("value: 20, max_coupons: -1", "max_coupons", "greater than 0"),
    ("value: 20, valid_days: 0", "valid_days", "greater than 0"),
    ("value: 120, kind: percent", "", "at most 100 %"),
])
def test_coupon_money_out_of_range(make_ruleset, registry, options, where, expect):
    text = GOOD + f"actions:\n  - {{type: coupon, id: vip_gift, when: {{tier: vip}}, {options}}}\n"
    found, _ = problems(make_ruleset, registry, text)
    hits = [p for p in found if p.path.startswith("actions[0]") and where in p.path
            and expect in p.message]
    assert hits, [(p.path, p.message) for p in found]
    line = text.splitlines().index(next(t for t in text.splitlines() if "vip_gift" in t)) + 1
    assert all(p.line == line for p in hits), [(p.path, p.line, line) for p in hits]
