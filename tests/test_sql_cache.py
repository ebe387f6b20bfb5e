"""Compiled SQL kept between runs (tiers.engine.sqlcache): an unchanged ruleset reads its SQL
back instead of compiling it, and anything that changes the SQL misses the cache, so a run
never uses another graph's SQL."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "rulesets"
    shutil.copytree(REPO / "rulesets", target, ignore=shutil.ignore_patterns(".tiers", "rejects"))
    return target


def tiers(*args: object, cache: Path | str, seed: str = "0") -> dict:
    # each run its own process with its own string hashing, as users run it
    env = {**os.environ, "TIERS_CACHE_DIR": str(cache), "PYTHONHASHSEED": seed}
    env.pop("TIERS_STATE_URL", None)
    out = subprocess.run([sys.executable, "-m", "tiers", *map(str, args), "--format", "json"],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def entries(cache: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in cache.glob("*.sql")} if cache.exists() else {}


def tier_counts(result: dict) -> dict[str, int]:
    return {row["tier"]: row["customers"] for row in result["tiers"]}


def test_an_unchanged_dry_run_reads_every_query_back(project, tmp_path):
    cache = tmp_path / "cache"
    first = tiers("run", project / "retail.yaml", "--dry-run", cache=cache, seed="1")
    kept = entries(cache)
    assert len(kept) >= 10  # every source, stage and action query
    again = tiers("run", project / "retail.yaml", "--dry-run", cache=cache, seed="2")
    assert entries(cache) == kept  # nothing compiled, nothing written
    assert again == first
    assert tiers("run", project / "retail.yaml", "--dry-run", cache="none") == first


@pytest.mark.parametrize("command", [("run", "--dry-run"), ("explain", "C02049")])
def test_a_recorded_state_is_read_with_the_sql_kept(project, tmp_path, command):
    # the previous state is an in-memory table with a name drawn anew each run: the queries
    # that join it are still read back, not compiled again
    cache, state = tmp_path / "cache", tmp_path / "state.db"
    tiers("run", project / "retail.yaml", "--state", state, cache=cache)
    verb, arg = command

    def again(seed: str) -> dict:
        return tiers(verb, project / "retail.yaml", arg, "--state", state, cache=cache,
                     seed=seed)

    first = again("1")
    kept = entries(cache)
    assert again("2") == first
    assert entries(cache) == kept
    if verb == "run":  # the state was read: nobody enters again
        assert "entered" not in first["events"] and first["events"]["retained"] == 4000
    else:
        assert first["previous_tier"] == first["tier"]


def test_the_cache_is_private_to_the_user(project, tmp_path):
    cache = tmp_path / "cache"
    tiers("run", project / "retail.yaml", "--dry-run", cache=cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    modes = {stat.S_IMODE(p.stat().st_mode) for p in cache.iterdir()}
    assert modes == {0o600}
    assert not list(cache.glob(".*"))  # no temporary file left


def test_a_changed_ruleset_gets_its_own_sql(project, tmp_path):
    cache = tmp_path / "cache"
    ruleset = project / "retail.yaml"
    before = tiers("run", ruleset, "--dry-run", cache=cache)
    kept = entries(cache)
    text = ruleset.read_text(encoding="utf-8")
    # every spend threshold doubled: fewer customers reach the upper tiers
    import yaml

    data = yaml.safe_load(text)
    policy = next(p for p in data["policies"] if p.get("type") == "spend")
    policy["thresholds"] = {k: v * 2 for k, v in policy["thresholds"].items()}
    ruleset.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    after = tiers("run", ruleset, "--dry-run", cache=cache)
    assert set(entries(cache)) > set(kept)
    assert tier_counts(after) != tier_counts(before)
    assert after == tiers("run", ruleset, "--dry-run", cache="none")


def test_data_of_another_shape_gets_its_own_sql(project, tmp_path):
    cache = tmp_path / "cache"
    orders = project / "data" / "retail" / "orders.csv"
    before = tiers("run", project / "retail.yaml", "--dry-run", cache=cache)
    kept = entries(cache)
    header, *rows = orders.read_text(encoding="utf-8").splitlines()
    # a column more, and the latest order 5,000 larger
    names = header.split(",")
    at, amount = names.index("ordered_at"), names.index("amount")
    latest = max(range(len(rows)), key=lambda i: rows[i].split(",")[at])
    fields = rows[latest].split(",")
    fields[amount] = f"{float(fields[amount]) + 5000:.2f}"
    rows[latest] = ",".join(fields)
    orders.write_text("\n".join([header + ",channel", *[r + ",web" for r in rows]]) + "\n",
                      encoding="utf-8")
    after = tiers("run", project / "retail.yaml", "--dry-run", cache=cache)
    assert set(entries(cache)) > set(kept)
    assert after == tiers("run", project / "retail.yaml", "--dry-run", cache="none")
    assert after != before


def test_a_cache_that_cannot_be_used_is_skipped(project, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    reference = tiers("run", project / "retail.yaml", "--dry-run", cache="none")
    assert tiers("run", project / "retail.yaml", "--dry-run", cache=blocked) == reference
    assert blocked.read_text(encoding="utf-8") == ""


def test_none_keeps_nothing(project, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    tiers("run", project / "retail.yaml", "--dry-run", cache="none")
    assert not (tmp_path / "home").exists()


def test_old_entries_are_removed_beyond_the_limit(tmp_path, monkeypatch):
    import ibis

    from tiers.engine import sqlcache

    monkeypatch.setenv("TIERS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sqlcache, "MAX_ENTRIES", 5)
    con = ibis.duckdb.connect()
    t = ibis.table({"a": "int64"}, name="t")
    sqls = [sqlcache.compile_sql(con, t.filter(t.a > i)) for i in range(12)]
    assert all(f"> {i}" in sql for i, sql in enumerate(sqls))
    assert len(list((tmp_path / "cache").glob("*.sql"))) == 5
    # an entry read back is the SQL of its own graph
    assert sqlcache.compile_sql(con, t.filter(t.a > 11)) == sqls[11]
    assert sqlcache.compile_sql(con, t.filter(t.a > 3)) == con.compile(t.filter(t.a > 3))


def test_pinned_tiers_read_their_sql_back_and_a_changed_pin_takes_effect(project, tmp_path):
    # pins are an in-memory table with a name drawn anew each run: the SQL is kept with a
    # placeholder for it, so an unchanged run compiles nothing and new pins still count
    cache = tmp_path / "cache"
    ruleset = project / "retail.yaml"
    pins = project / "pins.csv"
    pins.write_text("customer_id,tier,until,reason\nC02049,vip,,goodwill\n", encoding="utf-8")
    ruleset.write_text(ruleset.read_text(encoding="utf-8") + "\noverrides: pins.csv\n",
                       encoding="utf-8")
    first = tiers("explain", ruleset, "C02049", cache=cache, seed="1")
    kept = entries(cache)
    assert first["tier"] == "vip"
    again = tiers("explain", ruleset, "C02049", cache=cache, seed="2")
    assert entries(cache) == kept and again == first
    pins.write_text("customer_id,tier,until,reason\nC02049,normal,,review\n", encoding="utf-8")
    moved = tiers("explain", ruleset, "C02049", cache=cache, seed="3")
    assert entries(cache) == kept  # the same SQL, over the new pin
    assert moved["tier"] == "normal"
    assert moved == tiers("explain", ruleset, "C02049", cache="none")


def test_in_memory_tables_are_keyed_by_schema_not_name_nor_data(tmp_path, monkeypatch):
    import ibis
    import pyarrow as pa

    from tiers.engine.sqlcache import compile_sql

    monkeypatch.setenv("TIERS_CACHE_DIR", str(tmp_path / "cache"))
    con = ibis.duckdb.connect()

    def total(values, kind="int64"):
        t = ibis.memtable(pa.table({"v": pa.array(values, kind)}))
        expr = t.aggregate(total=t.v.sum())
        sql = compile_sql(con, expr)
        con._run_pre_execute_hooks(expr)  # registers the in-memory table under its name
        return t.op().name, sql, con.raw_sql(sql).fetchone()[0]

    name, sql, value = total([1, 2])
    assert name in sql and value == 3
    kept = entries(tmp_path / "cache")
    name2, sql2, value2 = total([10, 20, 30])
    assert entries(tmp_path / "cache") == kept  # read back
    assert name2 in sql2 and name not in sql2 and value2 == 60
    assert "\x1f" not in sql2
    total([1], "int32")  # another schema: its own entry
    assert len(entries(tmp_path / "cache")) == len(kept) + 1
