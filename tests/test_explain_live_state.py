"""`tiers explain` starts from the state of the last recorded run, as the next run would."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tiers.cli.app import app, build_app

from .whatif_data import ORDERS, ruleset


def test_explain_reads_the_last_recorded_run(make_ruleset, tmp_path):
    path = make_ruleset(ruleset(), orders=ORDERS)
    build_app()
    runner = CliRunner()

    def explain(*extra: str) -> dict:
        res = runner.invoke(app, ["explain", str(path), "A", "--format", "json", *extra])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    # no store yet: A (silver as of 2025-03-01) just entered its tier
    fresh = explain()
    assert fresh["tier"] == "silver" and fresh["tier_event"] == "entered"
    first = runner.invoke(app, ["run", str(path), "--as-of", "2025-02-01"])
    assert first.exit_code == 0, first.output
    # the run recorded A as gold: now the same evaluation is a downgrade from gold
    live = explain()
    assert (live["tier"], live["tier_event"], live["previous_tier"]) == (
        "silver", "downgraded", "gold")
    # a date before the recorded run is explained without it
    assert explain("--as-of", "2025-01-15")["tier_event"] == "entered"
