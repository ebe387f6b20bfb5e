"""Metrics declared under `metrics:`: on the orders table like any other table, and a count of
no rows is 0, not blank."""

from __future__ import annotations

import csv

from tests.test_metrics import AS_OF, CUSTOMERS, ORDERS, RULESET
from tiers.pipeline import run
from tiers.ruleset.loader import load_ruleset

DECLARED = RULESET + """
metrics:
  - {id: biggest_order, table: orders, agg: max, column: amount}
  - {id: order_rows, table: orders, agg: count}
  - {id: order_days, table: orders, agg: count_distinct, column: order_ts}
  - {id: gross, table: orders, agg: sum, column: amount}
  - {id: answers, table: surveys, agg: count}
  - {id: survey_days, table: surveys, agg: count_distinct, column: ts}
  - {id: survey_total, table: surveys, agg: sum, column: score}
  - {id: best_score, table: surveys, agg: max, column: score}
"""
SURVEYS = [("customer_id", "ts", "score"), ("a", "2025-03-01", "90"),
           ("a", "2025-03-01", "80"), ("a", "2025-04-01", "70"), ("b", "2020-01-01", "50")]


def _rows(make_ruleset, registry, **kwargs):
    pm, reg = registry
    text = DECLARED.replace("sources:\n", "sources:\n  surveys: {type: csv, path: surveys.csv}\n")
    path = make_ruleset(text, orders=ORDERS, customers=CUSTOMERS, surveys=SURVEYS)
    loaded = load_ruleset(path, registry=reg, pm=pm)
    res = run(loaded, as_of=AS_OF.date(), **kwargs)
    return {r["customer_id"]: r for r in res.table.to_pylist()}, path


def test_metric_on_the_orders_table_in_the_window(make_ruleset, registry):
    rows, _ = _rows(make_ruleset, registry)
    assert float(rows["a"]["biggest_order"]) == 300.0
    assert float(rows["b"]["biggest_order"]) == 120.0  # the order at as-of is outside
    assert rows["c"]["biggest_order"] is None           # only an order before the window
    assert rows["a"]["order_rows"] == 3                  # every row, the refund included
    assert rows["a"]["order_days"] == 3
    assert float(rows["a"]["gross"]) == 490.0
    assert rows["e"]["order_rows"] == 0 and rows["e"]["order_days"] == 0
    assert float(rows["e"]["gross"]) == 0.0


def test_counts_of_no_rows_are_zero_and_max_of_nothing_is_blank(make_ruleset, registry):
    rows, _ = _rows(make_ruleset, registry)
    assert rows["a"]["answers"] == 3 and rows["a"]["survey_days"] == 2
    assert float(rows["a"]["survey_total"]) == 240.0 and float(rows["a"]["best_score"]) == 90
    for cid in ("b", "c", "e"):  # b's only answer is before the window; c, e have none
        assert rows[cid]["answers"] == 0
        assert rows[cid]["survey_days"] == 0
        assert float(rows[cid]["survey_total"]) == 0.0
        assert rows[cid]["best_score"] is None


def test_metric_on_orders_in_the_out_file(cli, make_ruleset, tmp_path):
    path = make_ruleset(RULESET + "metrics:\n  - {id: biggest_order, table: orders, agg: max, "
                        "column: amount}\n", orders=ORDERS, customers=CUSTOMERS)
    out = tmp_path / "out.csv"
    result = cli("run", path, "--as-of", "2026-01-01", "--out", out)  # a dry run writes no file
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as f:
        by_id = {r["customer_id"]: r for r in csv.DictReader(f)}
    assert float(by_id["a"]["biggest_order"]) == 300.0
