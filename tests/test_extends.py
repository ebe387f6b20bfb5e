"""`extends:`: a ruleset built on another, with errors located in the right file."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import write_csv
from tests.policytest import tiers_of
from tiers.core.errors import RulesetError
from tiers.ruleset.loader import load_ruleset

BASE = """\
name: base
as_of: 2026-07-01
sources:
  orders: {type: csv, path: data/orders.csv}
tiers: [{id: basic}, {id: silver}, {id: gold}]
policies:
  - type: spend
    thresholds: {silver: 1000, gold: 5000}
  - type: frequency
    thresholds: {silver: 5, gold: 10}
combine: highest
retention: {hold: {months: 12}, max_drop: 1}
"""


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def base(tmp_path):
    write_csv(tmp_path / "shared" / "data" / "orders.csv", ["customer_id", "order_ts", "amount"],
              [("a", "2026-03-01 10:00:00", "1200.00")]
              + [("b", f"2026-03-{d:02d} 10:00:00", "10.00") for d in range(1, 11)])
    return _write(tmp_path / "shared" / "base.yaml", BASE)


def test_override_by_id_remove_and_deep_merge(tmp_path, base):
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        policies:
          - id: spend
            thresholds: {silver: 1500}
          - id: frequency
            remove: true
        retention: {max_drop: 2}
    """)
    loaded = load_ruleset(child)
    assert loaded.model.name == "shop"
    assert [p.id for p in loaded.policies] == ["spend"]
    # a policy matched by id merges its options: the child's thresholds replace the base's
    # mapping key by key
    assert loaded.policies[0].config.thresholds == {"silver": 1500, "gold": 5000}
    assert loaded.model.retention.max_drop == 2 and loaded.model.retention.hold.months == 12
    # the base's data path stays relative to the base file
    assert tiers_of(child) == {"a": "basic", "b": "basic"}
    assert tiers_of(base) == {"a": "silver", "b": "gold"}


def test_lists_are_replaced_and_new_policies_appended(tmp_path, base):
    child = _write(tmp_path / "child.yaml", """\
        extends: shared/base.yaml
        tiers: [{id: basic}, {id: silver, name: Silber}, {id: gold}]
        policies:
          - type: spend
            id: spend
            thresholds: {gold: 3000}
          - type: threshold
            id: lifetime
            metric: lifetime_orders
            thresholds: {gold: 3}
    """)
    loaded = load_ruleset(child)
    assert [t.label for t in loaded.model.tiers] == ["basic", "Silber", "gold"]
    assert loaded.policies[0].config.thresholds == {"silver": 1000, "gold": 3000}
    assert [p.id for p in loaded.policies] == ["spend", "frequency", "lifetime"]


def test_error_in_child_points_at_child(tmp_path, base):
    child = _write(tmp_path / "child.yaml", """\
        extends: shared/base.yaml
        name: child
        policies:
          - id: spend
            thresholds: {platinum: 9000}
    """)
    with pytest.raises(RulesetError) as exc:
        load_ruleset(child)
    [p] = [p for p in exc.value.problems if "platinum" in p.message]
    assert p.file == str(child) and p.line == 5


def test_error_in_base_points_at_base(tmp_path, base):
    text = base.read_text().replace("combine: highest", "combine: higest")
    base.write_text(text)
    child = _write(tmp_path / "child.yaml", "extends: shared/base.yaml\nname: child\n")
    with pytest.raises(RulesetError) as exc:
        load_ruleset(child)
    [p] = exc.value.problems
    assert p.file == str(base) and p.line == 11 and p.path == "combine"


def test_missing_base_and_cycles(tmp_path):
    a = _write(tmp_path / "a.yaml", "extends: b.yaml\nname: a\n")
    with pytest.raises(RulesetError) as exc:
        load_ruleset(a)
    assert "extended ruleset not found" in exc.value.render()
    assert exc.value.problems[0].line == 1
    _write(tmp_path / "b.yaml", "extends: a.yaml\nname: b\n")
    with pytest.raises(RulesetError) as exc:
        load_ruleset(a)
    assert "goes round in a circle" in exc.value.render()


def test_remove_of_unknown_policy(tmp_path, base):
    child = _write(tmp_path / "child.yaml", """\
        extends: shared/base.yaml
        policies:
          - id: points
            remove: true
    """)
    with pytest.raises(RulesetError) as exc:
        load_ruleset(child)
    [p] = exc.value.problems
    assert p.file == str(child) and p.line == 3 and "'points'" in p.message


def test_content_hash_covers_the_base(tmp_path, base):
    child = _write(tmp_path / "child.yaml", "extends: shared/base.yaml\n")
    before = load_ruleset(child).content_hash
    base.write_text(base.read_text().replace("gold: 5000", "gold: 6000"))
    assert load_ruleset(child).content_hash != before


# -- the documented merge rules, one test each ---------------------------------------------

EMAIL_BASE = BASE + """\
actions:
  - type: email
    id: tier_up_email
    when: {event: upgraded}
    template: tier_up
    from: "Club <club@shop.example>"
  - type: coupon
    id: gold_coupon
    when: {tier: gold}
    value: 5
"""


def _email_base(tmp_path, base):
    import shutil

    from tests.conftest import REPO

    _write(base, EMAIL_BASE)
    shutil.copytree(REPO / "rulesets" / "templates", base.parent / "templates")
    return base


def test_default_templates_resolve_against_the_file_that_declared_the_action(tmp_path, base):
    _email_base(tmp_path, base)
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        actions:
          - id: tier_up_email
            from: "Shop <shop@shop.example>"
        """)
    loaded = load_ruleset(child)
    (email,) = [a for a in loaded.actions if a.id == "tier_up_email"]
    assert email.folder.resolve() == (base.parent / "templates").resolve()


def test_a_template_written_in_the_extending_file_is_looked_up_beside_it(tmp_path, base):
    _email_base(tmp_path, base)
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        actions:
          - id: tier_up_email
            templates: my_templates
        """)
    with pytest.raises(RulesetError) as info:
        load_ruleset(child)
    (p,) = info.value.problems
    assert str(tmp_path / "lines" / "my_templates") in p.message


def test_empty_actions_list_drops_the_base_actions(tmp_path, base):
    _email_base(tmp_path, base)
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        actions: []
        """)
    assert load_ruleset(child).actions == []


def test_empty_policies_list_drops_the_base_policies(tmp_path, base):
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        policies: []
        tiers: [{id: basic}, {id: gold, qualify: "spend >= 100"}]
        """)
    assert load_ruleset(child).policies == []


def test_a_source_may_change_type(tmp_path, base):
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        sources:
          orders: {type: parquet, path: orders.parquet}
        """)
    with pytest.raises(RulesetError) as info:
        load_ruleset(child)
    assert not any("unknown field" in p.message for p in info.value.problems)
    child2 = _write(tmp_path / "lines" / "api.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        sources:
          orders: {type: api, url: "http://127.0.0.1:9/orders"}
        """)
    loaded = load_ruleset(child2, check_data=False)
    assert loaded.model.sources["orders"].type == "api"
    assert "path" not in loaded.model.sources["orders"].options


def test_a_policy_matched_by_id_may_change_type(tmp_path, base):
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        policies:
          - id: spend
            type: threshold
            metric: orders
            thresholds: {gold: 3}
        """)
    loaded = load_ruleset(child)
    spend = loaded.model.policies[0]
    assert spend.type == "threshold" and spend.options["thresholds"] == {"gold": 3}


def test_a_window_may_change_kind(tmp_path, base):
    _write(base, BASE + "window: {kind: rolling, days: 365}\n")
    child = _write(tmp_path / "lines" / "shop.yaml", """\
        extends: ../shared/base.yaml
        name: shop
        window: {kind: calendar_year}
        """)
    assert load_ruleset(child).model.window.kind == "calendar_year"
