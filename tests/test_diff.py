"""`tiers diff`: two rulesets on the same customers, checked against hand-computed figures."""

from __future__ import annotations

import csv
import json

import pytest

from tiers.whatif.diff import NEW, migration_matrix

from .whatif_data import ORDERS, ruleset


@pytest.fixture
def pair(make_ruleset):
    # as of 2025-03-01 the 28-day spend is A 150, B 700, C 120, D 0
    old = make_ruleset(ruleset("old"), "old.yaml", orders=ORDERS)
    new = make_ruleset(ruleset("new", silver=130, gold=140), "new.yaml")
    return old, new


def test_diff_matrix_totals_and_affected(pair, registry):
    from tiers.ruleset.loader import load_ruleset
    from tiers.whatif.diff import diff_rulesets

    pm, reg = registry
    old, new = (load_ruleset(p, registry=reg, pm=pm) for p in pair)
    d = diff_rulesets(old, new)
    m = d.matrix
    assert m.from_tiers == m.to_tiers == ["bronze", "silver", "gold"]
    # A silver -> gold, B gold -> gold, C silver -> bronze, D bronze -> bronze
    assert m.counts == [[1, 0, 0], [1, 0, 1], [0, 0, 1]]
    assert m.moved == 2 and m.total == 4
    by = {c.tier: c for c in d.tiers}
    assert (by["bronze"].before, by["silver"].before, by["gold"].before) == (1, 2, 1)
    assert (by["bronze"].after, by["silver"].after, by["gold"].after) == (2, 0, 2)
    assert by["gold"].spend_before == pytest.approx(700)
    assert by["gold"].spend_after == pytest.approx(850)
    assert by["silver"].spend_before == pytest.approx(270)
    assert by["bronze"].spend_after == pytest.approx(120)
    affected = d.affected().to_pylist()
    assert [(r["customer_id"], r["old_tier"], r["new_tier"], r["direction"])
            for r in affected] == [("A", "silver", "gold", "up"), ("C", "silver", "bronze", "down")]
    assert d.counts() == {"customers": 4, "changed": 2, "up": 1, "down": 1, "moved": 0,
                          "new": 0, "gone": 0}


def test_diff_cli_json_and_out_file(cli, pair, tmp_path):
    out = tmp_path / "affected.csv"
    res = cli("diff", *pair, "--format", "json", "--out", out)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["summary"]["changed"] == 2
    assert doc["matrix"]["counts"] == [[1, 0, 0], [1, 0, 1], [0, 0, 1]]
    assert {t["tier"]: t["delta"] for t in doc["tiers"]} == {"bronze": 1, "silver": -2, "gold": 1}
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["customer_id"], r["direction"]) for r in rows] == [("A", "up"), ("C", "down")]


def test_diff_cli_table(cli, pair):
    res = cli("diff", *pair, "--as-of", "2025-03-01")
    assert res.exit_code == 0, res.output
    assert "4 customers, 2 change tier (1 up, 1 down)" in res.output
    assert "Tier migration" in res.output and "Customers and spend per tier" in res.output


def test_migration_matrix_marks_new_customers():
    # a NULL on the left is a customer the old side did not know
    import pyarrow as pa

    m = migration_matrix(pa.array(["gold", "bronze", None]), pa.array(["silver", "gold", "silver"]),
                         ["bronze", "silver", "gold"], ["bronze", "silver", "gold"])
    assert m.from_tiers[-1] == NEW
    assert m.count(NEW, "silver") == 1 and m.count("gold", "silver") == 1
    assert m.links() == [("bronze", "gold", 1), ("gold", "silver", 1), (NEW, "silver", 1)]


def test_diff_rejects_unknown_format(cli, pair):
    res = cli("diff", *pair, "--format", "xml")
    assert res.exit_code == 2
    assert "--format 'xml': use table, json or csv" in res.output


def test_diff_rejects_unsupported_out_and_writes_nothing(cli, pair, tmp_path):
    out = tmp_path / "affected.txt"
    res = cli("diff", *pair, "--out", out)
    assert res.exit_code == 2
    assert "unsupported file type '.txt'" in res.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".affected")] == []


def test_diff_reports_a_broken_ruleset_with_its_location(cli, pair, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(ruleset("bad").replace("gold: 500", "gold: lots"), encoding="utf-8")
    res = cli("diff", pair[0], bad)
    assert res.exit_code == 2
    assert "bad.yaml:" in res.output and "thresholds" in res.output


def test_diff_bad_as_of(cli, pair):
    res = cli("diff", *pair, "--as-of", "March")
    assert res.exit_code == 2
    assert "--as-of 'March' is not a date" in res.output
