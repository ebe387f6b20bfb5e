"""Retention, segments and events give the same answers on Spark as on DuckDB."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not installed (CI installs it via .ci/setup.d/10-java.sh)",
                allow_module_level=True)

import ibis
import pyarrow as pa

from tiers.engine.backends import connect
from tiers.engine.backends import spark as tiers_spark
from tiers.engine.evaluate import evaluate
from tiers.ruleset.loader import load_ruleset

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["customer_id", "tier", "tier_rank", "prev_rank", "tier_event", "tier_since",
           "held_until", "segments", "qualified_rank", "at_risk"]


@pytest.fixture(scope="module")
def spark_con() -> Any:
    spark = tiers_spark.session(master="local[2]")
    yield tiers_spark.connect_spark(spark)
    spark.stop()


def _state(table: pa.Table) -> pa.Table:
    """A previous state (PREVIOUS_STATE_SCHEMA) from an evaluated result."""
    return pa.table({
        "customer_id": table["customer_id"], "tier": table["tier"],
        "tier_rank": table["tier_rank"].cast(pa.int8()), "since": table["tier_since"],
        "held_until": table["held_until"], "segments": table["segments"]})


def _both(path: Path, first: str, second: str, spark_con: Any) -> tuple[Any, Any]:
    loaded = load_ruleset(path)
    duck = connect("duckdb")
    ev = evaluate(loaded, first, duck)
    state = _state(duck.to_pyarrow(ev.table.select(
        "customer_id", "tier", "tier_rank", "tier_since", "held_until", "segments")))
    out = []
    for con in (duck, spark_con):
        ev = evaluate(loaded, second, con, previous=ibis.memtable(state))
        table = con.to_pyarrow(ev.table.select(*COLUMNS)).sort_by("customer_id").to_pylist()
        events = sorted((e["customer_id"], e["event"], e["detail"] or "")
                        for e in con.to_pyarrow(ev.events).to_pylist())
        out.append((table, events))
    return out[0], out[1]


@pytest.mark.parametrize(("ruleset", "first", "second"), [
    ("airline.yaml", "2026-07-01", "2027-01-01"),
    ("retail.yaml", "2026-05-21", "2026-11-21"),
])
def test_same_semantics_on_spark(spark_con, ruleset, first, second):
    (duck_rows, duck_events), (spark_rows, spark_events) = _both(
        ROOT / "rulesets" / ruleset, first, second, spark_con)
    assert len(duck_rows) == len(spark_rows) > 100
    for d, s in zip(duck_rows, spark_rows, strict=True):
        assert d == s
    assert duck_events == spark_events
    kinds = {e[1] for e in duck_events}
    assert {"upgraded", "retained"} <= kinds
