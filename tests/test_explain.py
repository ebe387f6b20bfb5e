"""`tiers explain`: one customer's metrics, reasons, retention, events and distance."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.policytest import make_ruleset, write_csv
from tests.semtest import prev
from tiers.cli.app import app, build_app
from tiers.ruleset.loader import load_ruleset
from tiers.whatif.explain import CustomerNotFound, explain_customer, gap_text

BODY = """
metrics:
  - {id: flights, table: flights, agg: count, time_column: ts}
tiers:
  - {id: blue}
  - {id: silver, qualify: "spend >= 2000 or flights >= 15"}
  - {id: gold, qualify: "spend >= 5000 or flights >= 30", maintain: "spend >= 4000"}
  - {id: platinum}
policies:
  - type: frequency
    thresholds: {silver: 4, gold: 6}
retention: {hold: rest_of_year_and_next, max_drop: 1}
overrides: pins.csv
"""
ORDERS = [("x", "2026-03-01 10:00:00", "3000.00"), ("x", "2026-03-02 10:00:00", "760.00"),
          ("y", "2026-03-01 10:00:00", "4200.00"), ("z", "2026-03-01 10:00:00", "10.00")]
FLIGHTS = [("x", f"2026-02-{d:02d} 08:00:00") for d in range(1, 28)]


@pytest.fixture
def ruleset(tmp_path):
    path = make_ruleset(tmp_path, BODY, ORDERS,
                        tables={"flights": (["customer_id", "ts"], FLIGHTS)})
    write_csv(tmp_path / "pins.csv", ["customer_id", "tier", "until", "reason"],
              [("z", "gold", "2026-12-31", "lost luggage goodwill")])
    return path


def _previous():
    from tests.semtest import previous_table

    return previous_table([prev("y", "gold", 2, held_until=dt.datetime(2026, 1, 1))])


def test_distance_in_the_customers_units(ruleset):
    e = explain_customer(load_ruleset(ruleset), "x")
    assert (e.tier, e.next_tier, e.entry_tier) == ("silver", "gold", "silver")
    assert e.metrics["spend"] == 3760.0 and e.metrics["flights"] == 27
    assert e.distance == [
        "needs 4 more orders within the last 365 days (frequency)",
        "needs 1,240.00 more spend within the last 365 days or 3 more flights within the last "
        "365 days (qualify for gold)",
    ]
    gaps = [(g.policy, g.tier, g.metric, g.current, g.target, g.needed) for g in e.gaps]
    assert gaps == [("frequency", "gold", "orders", 2.0, 6.0, 4),
                    ("qualify:gold", "gold", "spend", 3760.0, 5000.0, 1240.0),
                    ("qualify:gold", "gold", "flights", 27.0, 30.0, 3)]
    assert {g.window for g in e.gaps} == {"within the last 365 days"}
    by_id = {c.id: c for c in e.candidates}
    assert by_id["frequency"].granted is None
    assert by_id["qualify"].granted == "silver"
    assert "silver: `spend >= 2000 or flights >= 15` holds" in by_id["qualify"].reasons
    assert e.retention == ["first evaluation of this customer: silver as earned"]
    assert {"event": "entered", "detail": "silver"} in e.events


def test_maintenance_and_hold_are_explained(ruleset):
    e = explain_customer(load_ruleset(ruleset), "y", previous=_previous())
    assert e.tier == "gold" and e.entry_tier == "silver"
    assert any("keeps gold by its maintenance condition" in m for m in e.maintenance)
    assert e.retention[0] == "earns gold again; held until 2028-01-01"


def test_override_is_explained(ruleset):
    e = explain_customer(load_ruleset(ruleset), "z")
    assert e.tier == "gold" and e.entry_tier == "blue"
    assert e.override == "pinned to gold through 2026-12-31 (in force): lost luggage goodwill"


def test_unknown_customer(ruleset):
    with pytest.raises(CustomerNotFound) as exc:
        explain_customer(load_ruleset(ruleset), "nobody")
    assert "'nobody'" in str(exc.value)


@pytest.mark.parametrize(("value", "target", "strict", "expected"), [
    (3, 5, False, "2 more n"),
    (5, 5, False, None),
    (5, 5, True, "1 more n"),
    (4.5, 5, False, "0.50 more n"),
])
def test_gap_text(value, target, strict, expected):
    assert gap_text("n", value, target, strict, None) == expected


def test_cli_text_and_json(ruleset, tmp_path):
    build_app()
    runner = CliRunner()
    table = pa.table({"customer_id": ["y"], "tier": ["gold"], "tier_rank": pa.array([2], pa.int8()),
                      "since": pa.array([dt.datetime(2025, 1, 1)], pa.timestamp("us")),
                      "held_until": pa.array([None], pa.timestamp("us")),
                      "segments": pa.array([[]], pa.list_(pa.string()))})
    pq.write_table(table, tmp_path / "prev.parquet")
    res = runner.invoke(app, ["explain", str(ruleset), "y", "--previous",
                              str(tmp_path / "prev.parquet")])
    assert res.exit_code == 0, res.output
    assert "y in test as of 2026-07-01: gold (gold), retained" in res.output
    assert "keeps gold by its maintenance condition" in res.output
    assert "Next tier: platinum" in res.output
    res = runner.invoke(app, ["explain", str(ruleset), "x", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["tier"] == "silver" and data["next_tier"] == "gold"
    res = runner.invoke(app, ["explain", str(ruleset), "nobody"])
    assert res.exit_code == 8 and "not in the data" in res.output


def test_describe_window_names_the_period():
    from tiers.core.windows import Window
    from tiers.whatif.explain import describe_window

    as_of = dt.datetime(2027, 1, 1)  # judges 2026
    assert describe_window(Window(kind="calendar_year"), as_of) == " in 2026"
    assert describe_window(Window(kind="quarter"), dt.datetime(2026, 8, 15)) == " in 2026 Q3"
    assert describe_window(Window(kind="rolling", days=90), as_of) == " within the last 90 days"
    assert gap_text("segments_flown", 30, 60.0, False, None) == "30 more segments flown"


def test_retail_explain_writes_values_as_the_ruleset_does():
    from pathlib import Path

    retail = Path(__file__).resolve().parent.parent / "rulesets" / "retail.yaml"
    e = explain_customer(load_ruleset(retail), "C02090")
    (reason,) = [r for r in e.segment_reasons if r.startswith("returning_customer")]
    # decimals as plain numbers, not Python reprs
    assert "Decimal" not in reason
    assert re.search(r"orders=\d+, spend=\d+\.\d\d$", reason), reason
    (points,) = [c for c in e.candidates if c.kind == "points"]
    assert points.granted is None
    assert any("no thresholds" in r for r in points.reasons)


def test_gaps_only_where_one_figure_reaches_the_tier():
    from tiers.core.expressions import parse_expression
    from tiers.whatif.explain import _simple_comparisons

    def parts(src: str) -> list[tuple[str, float, bool]]:
        return _simple_comparisons(parse_expression(src).tree)

    assert parts("spend >= 100 or 5 < orders") == [("spend", 100.0, False), ("orders", 5.0, True)]
    assert parts("spend >= 100 and orders >= 2") == []  # both at once: no single figure
    assert parts("spend >= 100 or (orders >= 2 and tenure_days > 30)") == []
