"""The same ruleset on DuckDB and on Spark local mode gives the same tiers and metrics.

One Spark session serves the whole module (JVM start-up dominates); the data sets are small.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not installed (CI installs it via .ci/setup.d/10-java.sh)",
                allow_module_level=True)

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from tiers.cli.app import app, build_app
from tiers.core.errors import TiersError
from tiers.engine.backends import connect
from tiers.engine.backends import spark as tiers_spark
from tiers.engine.evaluate import evaluate
from tiers.engine.metrics import whole_days_between
from tiers.engine.readers import read_parquet, widen
from tiers.pipeline import run
from tiers.ruleset.loader import load_ruleset

ROOT = Path(__file__).resolve().parent.parent
RETAIL = ROOT / "rulesets" / "retail.yaml"
AS_OF = dt.datetime(2026, 6, 30)


@pytest.fixture(scope="module")
def spark_con() -> Any:
    spark = tiers_spark.session(master="local[2]")
    yield tiers_spark.connect_spark(spark)
    spark.stop()


def by_customer(table: pa.Table) -> pa.Table:
    return table.sort_by("customer_id")


def assert_same(duck: pa.Table, spark: pa.Table, columns: list[str]) -> None:
    duck, spark = by_customer(duck), by_customer(spark)
    assert duck.num_rows == spark.num_rows
    for name in columns:
        d, s = duck[name].to_pylist(), spark[name].to_pylist()
        diff = [(duck["customer_id"][i].as_py(), a, b)
                for i, (a, b) in enumerate(zip(d, s, strict=True)) if a != b]
        assert not diff, f"{name} differs for {len(diff)} customers, e.g. {diff[:3]}"


def compared_columns(result: Any) -> list[str]:
    names = result.table.column_names
    rank_cols = [c for c in names if c.startswith("rank_")]
    later = [c for c in ("tier_event", "held_until", "segments", "at_risk") if c in names]
    return ["customer_id", "tier", "tier_rank", *rank_cols, *result.metric_columns,
            "lifetime_spend", "lifetime_orders", *later]


def test_retail_sample_same_tiers_and_metrics(spark_con: Any) -> None:
    loaded = load_ruleset(RETAIL)
    duck = run(loaded, con=connect("duckdb"))
    spark = run(loaded, con=spark_con)
    assert duck.customers == 4000
    assert_same(duck.table, spark.table, compared_columns(duck))
    assert [s.customers for s in duck.summary] == [s.customers for s in spark.summary]


# --- a generated data set with the edge cases backends disagree on ---------------------------

EDGE_OFFSETS = [  # time before as-of of a customer's last order -> expected recency (floor)
    (dt.timedelta(microseconds=1), 0),
    (dt.timedelta(days=1) - dt.timedelta(microseconds=1), 0),
    (dt.timedelta(days=1), 1),
    (dt.timedelta(days=1, microseconds=1), 1),
    (dt.timedelta(days=1, microseconds=500_000), 1),
    (dt.timedelta(days=2) - dt.timedelta(milliseconds=1), 1),
    (dt.timedelta(days=2, seconds=1), 2),
    (dt.timedelta(days=364, hours=23, minutes=59, seconds=59, microseconds=999_999), 364),
    (dt.timedelta(days=365), 365),  # exactly on the window's start: inside (half-open)
    (dt.timedelta(days=365, microseconds=1), 365),  # just before it: outside
]


def generate(folder: Path, customers: int = 1500, seed: int = 7) -> dict[str, int]:
    """Orders and customers CSVs; returns customer id -> expected recency for edge customers."""
    rng = random.Random(seed)
    start = AS_OF - dt.timedelta(days=730)
    orders, people, expected = [], [], {}
    for i in range(customers):
        cid = f"G{i:05d}"
        signup = start + dt.timedelta(days=rng.randrange(0, 760))  # some sign up after as-of
        people.append([cid, signup.date().isoformat()])
        for _ in range(min(int(rng.lognormvariate(1.5, 1.0)), 60)):
            ts = start + dt.timedelta(seconds=rng.random() * 760 * 86400,
                                      microseconds=rng.randrange(1_000_000))
            amount = round(rng.lognormvariate(4.5, 0.8), 2)
            if rng.random() < 0.05:
                amount = -amount  # refund
            orders.append([cid, ts.isoformat(sep=" "), f"{amount:.2f}"])
    for j, (delta, days) in enumerate(EDGE_OFFSETS):
        cid = f"E{j:03d}"
        people.append([cid, "2024-01-01"])
        orders.append([cid, (AS_OF - delta).isoformat(sep=" ", timespec="microseconds"), "500.00"])
        orders.append([cid, (AS_OF - dt.timedelta(days=400)).isoformat(sep=" "), "10.00"])
        expected[cid] = days
    rng.shuffle(orders)
    with open(folder / "orders.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "ts", "amount"])
        w.writerows(orders)
    with open(folder / "customers.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "signup_date"])
        w.writerows(people)
    return expected


RULESET = """
name: generated
as_of: 2026-06-30
engine: {engine}
sources:
  orders: {{type: csv, path: orders.csv, columns: {{order_ts: ts}}}}
  customers: {{type: csv, path: customers.csv}}
window: {{kind: rolling, days: 365}}
tiers: [{{id: basic}}, {{id: silver}}, {{id: gold}}, {{id: platinum}}]
policies:
  - {{type: spend, thresholds: {{silver: 300, gold: 1200, platinum: 4000}}}}
  - {{type: frequency, thresholds: {{silver: 4, gold: 8, platinum: 15}}}}
  - type: threshold
    id: best_order
    metric: max_order_value
    window: {{kind: calendar_year}}
    thresholds: {{gold: 900}}
combine: {combine}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("generated")
    return folder, generate(folder)


def write_ruleset(folder: Path, engine: str = "duckdb", combine: str = "highest") -> Path:
    path = folder / f"ruleset-{engine}-{combine}.yaml"
    path.write_text(RULESET.format(engine=engine, combine=combine), encoding="utf-8")
    return path


@pytest.mark.parametrize("combine", ["highest", "all"])
def test_generated_data_same_tiers_and_metrics(spark_con: Any, generated: Any,
                                                combine: str) -> None:
    folder, expected = generated
    loaded = load_ruleset(write_ruleset(folder, combine=combine))
    duck = run(loaded, con=connect("duckdb"))
    spark = run(loaded, con=spark_con)
    assert "max_order_value_year" in duck.metric_columns
    assert_same(duck.table, spark.table, compared_columns(duck))
    counts = {s.tier: s.customers for s in duck.summary}
    if combine == "highest":  # the ladder is exercised, not just the bottom rung
        assert all(n > 0 for n in counts.values()), counts

    # the pinned definition, not just agreement: whole days elapsed, floored
    rows = {r["customer_id"]: r for r in by_customer(spark.table).to_pylist()}
    for cid, days in expected.items():
        assert rows[cid]["recency_days"] == days, cid
    # the 365-day window is half-open: an order exactly 365 days back counts, 1 µs more not
    assert rows["E008"]["spend"] == 500 and rows["E008"]["orders"] == 1
    assert rows["E009"]["spend"] == 0 and rows["E009"]["orders"] == 0


def test_recency_and_tenure_match_python_on_both_engines(spark_con: Any,
                                                        tmp_path: Path) -> None:
    """Sub-second timestamps on both sides of midnight, read from Parquet by each engine."""
    rng = random.Random(11)
    stamps = []
    for _ in range(400):
        day = AS_OF - dt.timedelta(days=rng.randrange(0, 800))
        jitter = dt.timedelta(microseconds=rng.randrange(-2_000_000, 2_000_000))
        stamps.append(day + jitter)
    stamps += [AS_OF - dt.timedelta(microseconds=1), AS_OF - dt.timedelta(days=3)]
    stamps = [s for s in stamps if s < AS_OF]
    path = tmp_path / "stamps.parquet"
    pq.write_table(pa.table({"ts": pa.array(stamps, pa.timestamp("us"))}), path)
    wanted = [(AS_OF - s) // dt.timedelta(days=1) for s in stamps]

    for con in (connect("duckdb"), spark_con):
        t = read_parquet(con, str(path), table_name="stamps")
        days = con.to_pyarrow(t.select(d=whole_days_between(t.ts, AS_OF)))["d"].to_pylist()
        assert days == wanted, con.name


def test_widened_csv_integers_are_int64_on_both(spark_con: Any, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("customer_id,qty,score\n1,2,0.5\n2,3000000000,1.5\n", encoding="utf-8")
    for con in (connect("duckdb"), spark_con):
        options = {"header": True, "inferSchema": True} if con.name == "pyspark" else {}
        t = widen(con.read_csv(str(path), table_name="n", **options))
        assert str(t.schema()["qty"]) in ("int64", "!int64"), con.name
        assert str(t.schema()["customer_id"]).lstrip("!") == "int64", con.name
        assert con.to_pyarrow(t.qty.sum().name("s")).as_py() == 3000000002


def test_cli_engine_option_and_ruleset_engine(spark_con: Any, generated: Any) -> None:
    folder, _ = generated
    build_app()
    runner = CliRunner()
    # --dry-run: each run starts from the same (empty) state, so the outputs compare equal
    on_duck = runner.invoke(app, ["run", str(write_ruleset(folder)), "--format", "json",
                                  "--dry-run"])
    assert on_duck.exit_code == 0, on_duck.output
    on_spark = runner.invoke(app, ["run", str(write_ruleset(folder)), "--engine", "pyspark",
                                   "--format", "json", "--dry-run"])
    assert on_spark.exit_code == 0, on_spark.output
    # `engine: pyspark` in the ruleset, no option: the active local session is used
    in_file = runner.invoke(app, ["run", str(write_ruleset(folder, engine="pyspark")),
                                  "--format", "json", "--dry-run"])
    assert in_file.exit_code == 0, in_file.output
    duck_json, spark_json = json.loads(on_duck.stdout), json.loads(on_spark.stdout)
    assert duck_json == spark_json
    assert json.loads(in_file.stdout) == duck_json


def test_unknown_engine_option_is_a_clear_error(generated: Any) -> None:
    folder, _ = generated
    build_app()
    result = CliRunner().invoke(app, ["run", str(write_ruleset(folder)), "--engine", "spark"])
    assert result.exit_code == 2
    assert "unknown engine 'spark'" in result.output and "pyspark" in result.output


def test_missing_pyspark_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import fails as if not installed
    with pytest.raises(tiers_spark.SparkUnavailable, match=r"pip install 'tiers\[spark\]'"):
        tiers_spark.session()


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TiersError, match="needs Java 17"):
        tiers_spark.session()


def test_session_is_configured_for_identical_results(spark_con: Any) -> None:
    conf = spark_con._session.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    # nullable ints and string NULLs survive an in-memory table (they do not without Arrow)
    t = ibis.memtable(pa.table({"n": pa.array([2, None, 0], pa.int8()),
                                "s": pa.array(["a", None, "c"])}))
    out = spark_con.to_pyarrow(t)
    assert out["n"].to_pylist() == [2, None, 0]
    assert out["s"].to_pylist() == ["a", None, "c"]


def test_decimal_point_multipliers_are_exact_on_spark(spark_con: Any, tmp_path: Path) -> None:
    """100 x 1.13 points is 113 on Spark as on DuckDB (a double would floor it to 112)."""
    from tests.test_policy_points import decimal_ruleset

    loaded = load_ruleset(decimal_ruleset(tmp_path))
    ev = evaluate(loaded, None, spark_con)
    got = {r["customer_id"]: r["points_balance"]
           for r in spark_con.to_pyarrow(ev.table).to_pylist()}
    assert got == {"a": 111, "b": 7, "c": 0}
