"""One rule for where the state store is: `tiers runs` and `tiers history` from a project root
find the store `tiers run rulesets/x.yaml` created, and say where they looked otherwise."""

from __future__ import annotations

import json

import pytest

from tests.shop import write_shop


@pytest.fixture
def cli(cli_here):
    return cli_here


def test_runs_and_history_from_the_root_find_the_rulesets_store(cli, tmp_path):
    write_shop(tmp_path / "rulesets")
    assert cli("run", "rulesets/shop.yaml").exit_code == 0
    assert (tmp_path / "rulesets" / ".tiers" / "state.db").is_file()
    assert not (tmp_path / ".tiers").exists()
    runs = cli("runs", "--format", "json")
    assert runs.exit_code == 0, runs.output
    assert [(r["ruleset"], r["status"]) for r in json.loads(runs.stdout)] == [("shop", "done")]
    history = cli("history", "C1", "--format", "json")
    assert history.exit_code == 0, history.output
    assert json.loads(history.stdout)["current"][0]["tier"] == "vip"


def test_a_store_in_the_current_folder_comes_first(cli, tmp_path):
    write_shop(tmp_path / "rulesets")
    write_shop(tmp_path)
    assert cli("run", "rulesets/shop.yaml").exit_code == 0
    assert cli("run", "shop.yaml", "--as-of", "2026-06-02").exit_code == 0
    runs = json.loads(cli("runs", "--format", "json").stdout)
    assert [r["as_of"][:10] for r in runs] == ["2026-06-02"]


def test_several_stores_are_listed_and_r_chooses(cli, tmp_path):
    write_shop(tmp_path / "a")
    write_shop(tmp_path / "b")
    assert cli("run", "a/shop.yaml").exit_code == 0
    assert cli("run", "b/shop.yaml").exit_code == 0
    res = cli("runs")
    assert res.exit_code == 6
    assert "several state stores here: a/.tiers/state.db, b/.tiers/state.db" in res.output
    assert "-r RULESET" in res.output
    assert cli("runs", "-r", "b/shop.yaml").exit_code == 0


def test_no_store_says_where_it_looked(cli, tmp_path):
    for command in (["runs"], ["history", "C1"]):
        res = cli(*command)
        assert res.exit_code == 6
        assert (f"no state store found: looked for .tiers/state.db in {tmp_path} and in each "
                "folder one level down") in res.output


def test_the_environment_variable_wins_over_the_search(cli, tmp_path, monkeypatch):
    write_shop(tmp_path / "rulesets")
    assert cli("run", "rulesets/shop.yaml").exit_code == 0
    monkeypatch.setenv("TIERS_STATE_URL", str(tmp_path / "elsewhere.db"))
    res = cli("runs")
    assert res.exit_code == 6 and "no state store at sqlite:///" in res.output
