"""Compile each stage once: a dry run of the retail sample compiles no graph twice.

Ibis compiles an expression to SQL afresh for every query, at a cost that follows the size of
the graph. Each stage (a source's parsed rows, the metrics, a policy's per-customer table, the
result, its events) is compiled once and registered on the backend; each action then plans
from one query over those. Any extra compilation, say a fetch that compiles the graph below a
stage again, fails here.
"""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

import pytest

from .conftest import REPO


@pytest.fixture
def retail(tmp_path):
    target = tmp_path / "rulesets"
    shutil.copytree(REPO / "rulesets", target, ignore=shutil.ignore_patterns(".tiers", "rejects"))
    return target / "retail.yaml"


def test_a_retail_dry_run_compiles_each_stage_once(cli, retail, monkeypatch):
    # every compilation counted, none read from the cache of compiled SQL
    monkeypatch.setenv("TIERS_CACHE_DIR", "none")
    from ibis.backends.sql.compilers.base import SQLGlotCompiler

    import tiers.engine.stage as stage
    from tiers.plugins.sources import quality

    compiled: list[str] = []
    stages: list[str] = []
    to_sqlglot = SQLGlotCompiler.to_sqlglot

    def counting(self: Any, expr: Any, *args: Any, **kwargs: Any) -> Any:
        out = to_sqlglot(self, expr, *args, **kwargs)
        compiled.append(out.sql("duckdb"))
        return out

    register = stage.register

    def counted_register(con: Any, expr: Any, label: str, **kwargs: Any) -> Any:
        stages.append(label)
        return register(con, expr, label, **kwargs)

    materialise = quality._materialise

    def counted_materialise(check: Any, table: Any) -> Any:
        stages.append(f"source_{check.role}")
        return materialise(check, table)

    monkeypatch.setattr(SQLGlotCompiler, "to_sqlglot", counting)
    monkeypatch.setattr(stage, "register", counted_register)
    # evaluate imported the name itself
    monkeypatch.setattr("tiers.engine.evaluate.register", counted_register)
    monkeypatch.setattr(quality, "_materialise", counted_materialise)

    res = cli("run", retail, "--dry-run")
    assert res.exit_code == 0, res.output

    from tiers.ruleset.loader import load_ruleset

    actions = len(load_ruleset(retail).actions)
    assert {"source_orders", "source_customers", "metrics", "result", "events"} <= set(stages)
    # one compilation per stage, one query per action over the stages, and the counts of
    # the events
    assert len(compiled) <= len(stages) + actions + 1, (len(compiled), stages)
    repeated = [sql[:120] for sql, n in Counter(compiled).items() if n > 1]
    assert not repeated, repeated
