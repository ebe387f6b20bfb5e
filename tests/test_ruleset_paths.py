"""Every path a ruleset derives stays in the ruleset's folder: the name is a plain file name,
and exports, outbox, rejects, state, templates, pins and rosters resolve inside the folder."""

from __future__ import annotations

import pytest

from tests.conftest import write_csv
from tests.test_validate import GOOD, ORDERS, problems
from tiers.core.paths import is_inside
from tiers.ruleset.loader import load_ruleset


@pytest.mark.parametrize("name", ["../../victim/important", "a/b", "a\\b", "..", "x..y",
                                  ".tiers", "two words", "tab\tname", "", "n" * 101,
                                  "retail\n"])
def test_names_that_could_reach_a_path_are_refused(make_ruleset, registry, name):
    text = GOOD.replace("name: shop", f"name: {name!r}".replace("'", '"')
                        if name else 'name: ""')
    found, path = problems(make_ruleset, registry, text)
    (p,) = [p for p in found if p.path == "name"]
    assert p.file == str(path) and p.line == 1


@pytest.mark.parametrize("name", ["retail", "零售", "会员-2026.v2", "shop_1", "a" * 100])
def test_plain_names_are_accepted(name):
    from tiers.ruleset.models import check_name

    assert check_name(name) == name


def test_traversal_name_writes_and_deletes_nothing_outside(cli, tmp_path):
    folder = tmp_path / "shop" / "rules"
    folder.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    write_csv(folder / "orders.csv", ORDERS[0], [*ORDERS[1:], ("b", "not a date", "5")])
    text = GOOD.replace("name: shop", "name: ../../../victim/important")
    (folder / "ruleset.yaml").write_text(text, encoding="utf-8")
    result = cli("run", folder / "ruleset.yaml", "--dry-run")
    assert result.exit_code == 2
    assert "ruleset.yaml:1: name:" in result.output
    assert list(victim.iterdir()) == []
    assert not (tmp_path / "rejects").exists()


ACTIONS = {
    "export": "  - {type: coupon, id: c, when: {tier: vip}, value: 5, export: '%s'}",
    "path": "  - {type: export, id: e, when: {tier: vip}, path: '%s'}",
    "outbox": "  - {type: email, id: m, when: {tier: vip}, template: t, outbox: '%s'}",
    "templates": "  - {type: email, id: m, when: {tier: vip}, template: t, templates: '%s'}",
    "roster": "  - {type: dedicated_rep, id: r, when: {tier: vip}, roster: '%s'}",
}


@pytest.mark.parametrize("key", list(ACTIONS))
@pytest.mark.parametrize("value", ["../elsewhere/x.csv", "/tmp/tiers-outside/x",
                                   "exports/../../x-{action}.csv"])
def test_action_paths_stay_in_the_folder(make_ruleset, registry, key, value):
    text = GOOD + "actions:\n" + ACTIONS[key] % value + "\n"
    found, path = problems(make_ruleset, registry, text)
    (p,) = [p for p in found
            if p.path == f"actions[0].{key}" and "outside the ruleset's folder" in p.message]
    assert p.file == str(path) and p.line == 16


@pytest.mark.parametrize("line,where", [
    ("state: ../state.db\n", "state"),
    ("overrides: ../pins.csv\n", "overrides"),
])
def test_top_level_paths_stay_in_the_folder(make_ruleset, registry, line, where):
    found, _ = problems(make_ruleset, registry, GOOD + line)
    assert any(p.path == where and "outside" in p.message for p in found)


def test_source_rejects_stay_in_the_folder(make_ruleset, registry):
    text = GOOD.replace("    path: orders.csv", "    path: orders.csv\n    rejects: ../r.csv")
    found, _ = problems(make_ruleset, registry, text)
    assert any(p.path == "sources.orders.rejects" and "outside" in p.message for p in found)


def test_symlink_out_of_the_folder_is_outside(make_ruleset, registry, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "exports").symlink_to(outside, target_is_directory=True)
    assert not is_inside(tmp_path, tmp_path / "exports" / "x.csv")
    text = GOOD + "actions:\n" + ACTIONS["export"] % "exports/{action}.csv" + "\n"
    found, _ = problems(make_ruleset, registry, text)
    assert any(p.path == "actions[0].export" and "outside" in p.message for p in found)


def test_state_url_and_inside_paths_are_fine(make_ruleset, registry):
    pm, reg = registry
    text = GOOD + "state: sqlite:////tmp/elsewhere.db\nactions:\n" + \
        ACTIONS["export"] % "out/{action}-{as_of}.csv" + "\n"
    loaded = load_ruleset(make_ruleset(text, orders=ORDERS), registry=reg, pm=pm)
    assert loaded.model.state == "sqlite:////tmp/elsewhere.db"


def test_a_source_input_may_live_beside_the_folder(tmp_path, registry):
    # Inputs named explicitly by the user are read, never written: `../data/` is allowed.
    (tmp_path / "rules").mkdir()
    write_csv(tmp_path / "data" / "orders.csv", ORDERS[0], ORDERS[1:])
    path = tmp_path / "rules" / "r.yaml"
    path.write_text(GOOD.replace("path: orders.csv", "path: ../data/orders.csv"),
                    encoding="utf-8")
    pm, reg = registry
    assert load_ruleset(path, registry=reg, pm=pm).model.name == "shop"
