"""A Parquet load the statistics prove leaves the test of its customer ids to the engine,
which groups the orders by customer anyway: each case below is compared with the same rows
written without statistics, whose ids are tested row by row in the load itself."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiers.engine.evaluate import evaluate
from tiers.plugins.sources import quality

N = 30
RULESET = """\
name: shop
as_of: 2026-01-21
sources:
  orders: {{type: parquet, path: {name}, max_reject_share: 0.5}}
tiers: [{{id: normal}}, {{id: vip}}]
policies:
  - type: spend
    thresholds: {{vip: 100}}
"""


def orders(changes: dict[int, str] | None = None) -> pa.Table:
    """N clean orders, one a day from 2026-01-01 (as-of is day 20); ``changes``: row -> id."""
    ids = [f"C{i % 7}" for i in range(N)]
    for row, value in (changes or {}).items():
        ids[row] = value
    return pa.table({
        "order_id": pa.array(range(1, N + 1), pa.int64()),
        "customer_id": pa.array(ids, pa.string()),
        "amount": pa.array([Decimal(f"{10 + i}.50") for i in range(N)], pa.decimal128(12, 2)),
        "order_ts": pa.array([dt.datetime(2026, 1, 1) + dt.timedelta(days=i) for i in range(N)],
                             pa.timestamp("us")),
    })


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Each load's check, and the id tests each first pass computed over every row."""
    seen: dict[str, list[Any]] = {"loads": [], "row_tests": []}
    check_rows, first_pass_sql = quality.check_rows, quality._first_pass_sql

    def load(raw: Any, check: Any, *args: Any, **kwargs: Any) -> Any:
        seen["loads"].append(check.defer_ids)
        return check_rows(raw, check, *args, **kwargs)

    def first_pass(check: Any, name: str, keys: Any, fixes: Any = (), *args: Any,
                   **kwargs: Any) -> Any:
        seen["row_tests"].append(list(fixes))
        return first_pass_sql(check, name, keys, fixes, *args, **kwargs)

    monkeypatch.setattr("tiers.plugins.sources.table_source.check_rows", load)
    monkeypatch.setattr(quality, "_first_pass_sql", first_pass)
    return seen


def run(tmp_path: Path, table: pa.Table, name: str, **write: Any
        ) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    from tiers.core.plugins import get_plugin_manager
    from tiers.engine.backends import connect
    from tiers.ruleset.loader import load_ruleset

    pq.write_table(table, tmp_path / name, row_group_size=10, **write)
    path = tmp_path / f"{name}.yaml"
    path.write_text(RULESET.format(name=name), encoding="utf-8")
    pm, registry = get_plugin_manager(entry_points=False)
    loaded = load_ruleset(path, registry=registry, pm=pm, check_data=False)
    result = evaluate(loaded, con=connect("duckdb")).settle().table
    got = result.select("customer_id", "spend", "orders", "tier").order_by(
        "customer_id").to_pyarrow().to_pylist()
    report = loaded.sources["orders"].report
    counts = {"read": report.rows_read, "loaded": report.rows_loaded,
              "rejected": report.rejected}
    return counts, got, report


def both(tmp_path: Path, table: pa.Table, spies: dict[str, list[Any]]) -> tuple[Any, Any]:
    """The load with statistics, then the one without; each check the first saw."""
    with_stats = run(tmp_path, table, "stats.parquet")
    seen = {k: list(v) for k, v in spies.items()}
    without = run(tmp_path, table, "plain.parquet", write_statistics=False)
    assert with_stats[:2] == without[:2]
    assert not with_stats[2].ids_unconfirmed  # the engine's test settled it
    return with_stats, seen


def test_clean_ids_are_tested_once_per_customer(tmp_path, spies):
    (counts, got, _), seen = both(tmp_path, orders(), spies)
    assert counts == {"read": N, "loaded": N, "rejected": {}}
    assert len(got) == 7
    # one load, which left the ids to the engine: no first pass tested them row by row
    assert seen["loads"] == [True]
    assert seen["row_tests"] == [[]]


@pytest.mark.parametrize(("changes", "rejected"), [
    ({3: " C3 "}, {}),               # before as-of: among the metrics' ids
    ({3: "\uff23\uff13"}, {}),      # full-width letters, normalised
    ({25: "C4\t"}, {}),             # after as-of: an id the metrics never see
    # empty once trimmed: rejected; the least id is fine once trimmed, so the footers pass
    ({25: "   ", 26: "\tC5"}, {"missing_customer_id": 1}),
])
def test_an_id_that_needs_work_loads_the_orders_again(tmp_path, spies, changes, rejected):
    (counts, got, _), seen = both(tmp_path, orders(changes), spies)
    assert counts == {"read": N, "loaded": N - len(rejected), "rejected": rejected}
    assert not set(changes.values()) & {r["customer_id"] for r in got}
    if 3 in changes:  # the order counts for the customer its id names once made plain
        assert {r["customer_id"]: r["orders"] for r in got}["C3"] == 3
    # the engine's test found the id: loaded again, this time testing every row
    assert seen["loads"] == [True, False]
    assert seen["row_tests"][1] == [quality.FIX_KEY + "customer_id"]


def test_a_load_outside_the_engine_tests_its_own_ids(tmp_path, source_from, con, spies):
    pq.write_table(orders({3: " C3 "}), tmp_path / "direct.parquet", row_group_size=10)
    src = source_from("type: parquet\npath: direct.parquet")
    src.load(con)
    assert not src.report.ids_unconfirmed
    assert spies["loads"] == [False]
