"""Exit codes: listed once in docs/cli.md, defined once in tiers.core.exits, and the same for
the same kind of failure in every command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.shop import write_shop
from tiers.core import exits

DOC = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")


def doc_codes() -> dict[int, str]:
    """The code -> meaning table of docs/cli.md."""
    section = DOC.split("## Exit codes", 1)[1]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d) \| (.+?) \|$", section, re.M)}


def doc_kinds() -> dict[str, int]:
    """The kind of failure -> code table of docs/cli.md."""
    section = DOC.split("By kind of failure:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^\| ([a-z ]+) \| .+ \| (\d)\b", section, re.M)}


def test_the_doc_lists_the_codes_of_tiers_core_exits():
    assert doc_codes() == exits.MEANING


@pytest.fixture
def cli(cli_here):
    return cli_here


def bad_ruleset(folder: Path) -> Path:
    path = folder / "bad.yaml"
    path.write_text("name: bad\ntiers: [{id: a}\npolicies: nope\n", encoding="utf-8")  # no ]
    return path


CASES = {
    # kind of failure (a row of the doc's table) -> commands that meet it
    "invalid ruleset": [
        ["run", "bad.yaml"], ["validate", "bad.yaml"], ["explain", "bad.yaml", "C1"],
        ["diff", "shop/shop.yaml", "bad.yaml"], ["report", "bad.yaml", "--html", "r.html"],
        ["backtest", "bad.yaml", "--from", "2026-01-01", "--to", "2026-02-01"],
        ["runs", "-r", "bad.yaml"], ["history", "C1", "-r", "bad.yaml"],
        ["run", "missing.yaml"],
    ],
    "bad option value": [
        [*cmd, "--format", "xml"] for cmd in (
            ["run", "shop/shop.yaml"], ["validate", "shop/shop.yaml"],
            ["explain", "shop/shop.yaml", "C1"], ["diff", "shop/shop.yaml", "shop/shop.yaml"],
            ["backtest", "shop/shop.yaml", "--from", "2026-01-01", "--to", "2026-02-01"],
            ["runs"], ["history", "C1"], ["plugins"])
    ] + [["run", "shop/shop.yaml", "--as-of", "June"],
         ["run", "shop/shop.yaml", "--engine", "nosuch"],
         ["report", "shop/shop.yaml", "--html", "r.pdf"]],
    "unknown customer": [
        ["explain", "shop/shop.yaml", "NOBODY"], ["history", "NOBODY"],
        ["history", "NOBODY", "-r", "shop/shop.yaml"],
    ],
}
NO_STORE = [["runs"], ["history", "C1"], ["runs", "-r", "shop/shop.yaml"],
            ["history", "C1", "-r", "shop/shop.yaml"]]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_kind_of_failure_exits_as_the_doc_says(cli, tmp_path, kind):
    write_shop(tmp_path / "shop")
    bad_ruleset(tmp_path)
    assert cli("run", "shop/shop.yaml").exit_code == 0
    expected = doc_kinds()[kind]
    got = {" ".join(cmd): cli(*cmd).exit_code for cmd in CASES[kind]}
    assert got == {" ".join(cmd): expected for cmd in CASES[kind]}


def test_no_state_store_exits_as_the_doc_says(cli, tmp_path):
    write_shop(tmp_path / "shop")
    expected = doc_kinds()["state store"]
    got = {" ".join(cmd): cli(*cmd).exit_code for cmd in NO_STORE}
    assert got == {" ".join(cmd): expected for cmd in NO_STORE}
    assert expected == exits.STORE


def test_the_doc_kinds_use_the_named_codes():
    kinds = doc_kinds()
    assert kinds["unknown customer"] == exits.NOT_FOUND
    assert kinds["engine"] == exits.ENGINE
    assert kinds["bad option value"] == kinds["invalid ruleset"] == exits.USAGE
    assert kinds["actions"] == exits.ACTIONS and kinds["run lock"] == exits.LOCKED
