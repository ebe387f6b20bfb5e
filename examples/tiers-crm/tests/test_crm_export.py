"""The CRM export source, on the sample export and on broken ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tiers_crm import crm_export

from tiers import DataError
from tiers.testing import assert_tiers, installed_component

EXAMPLE = Path(__file__).resolve().parent.parent / "example"


def ruleset(path, **options):
    return {
        "sources": {"cases": {"type": "crm_export", "path": str(path), "skip_rows": 2,
                              **options}},
        "metrics": [{"id": "complaints", "table": "cases", "agg": "count"}],
        "tiers": [{"id": "calm"}, {"id": "noisy"}],
        "policies": [{"type": "threshold", "metric": "complaints",
                      "thresholds": {"noisy": 2}}],
    }


ORDERS = [{"customer_id": c, "order_ts": "2026-01-01", "amount": 10}
          for c in ("A-100", "A-101", "A-102", "A-103", "A-104")]


def test_reads_the_export_skipping_title_and_footer(tiers_runner):
    tiers_runner.register(crm_export)
    result = tiers_runner.run(ruleset(EXAMPLE / "crm_cases.csv"), orders=ORDERS,
                              as_of="2026-06-01")
    assert_tiers(result, {"A-100": "calm", "A-101": "noisy", "A-102": "calm",
                          "A-103": "noisy", "A-104": "calm"}, exact=True)
    complaints = dict(zip(result.table["customer_id"].to_pylist(),
                          result.table["complaints"].to_pylist(), strict=True))
    # A-104's only case is from 2024, outside the 365-day window
    assert complaints == {"A-100": 1, "A-101": 3, "A-102": 1, "A-103": 3, "A-104": 0}


def test_table_columns_and_types(tiers_runner):
    tiers_runner.register(crm_export)
    loaded = tiers_runner.load(ruleset(EXAMPLE / "crm_cases.csv"), orders=ORDERS)
    import ibis

    table = loaded.sources["cases"].load(ibis.duckdb.connect())
    assert table.columns == ("case_number", "customer_id", "ts", "category", "status")
    assert table.ts.type().is_timestamp()
    assert table.count().execute() == 9
    assert table.case_number.execute().iloc[0] == "00001021"


def test_wrong_skip_rows_names_the_headers(tiers_runner):
    tiers_runner.register(crm_export)
    problems = tiers_runner.problems(
        ruleset(EXAMPLE / "crm_cases.csv", skip_rows=0), orders=ORDERS)
    assert len(problems) == 2
    assert "sources.cases.columns.customer_id: column 'Account ID' (for customer_id) is not " \
           "in the header" in problems[0]
    assert "or adjust `skip_rows`" in problems[0]


def test_misspelled_header_gets_a_suggestion(tiers_runner):
    tiers_runner.register(crm_export)
    problems = tiers_runner.problems(ruleset(
        EXAMPLE / "crm_cases.csv", columns={"customer_id": "Account Id", "ts": "Date Opened"}),
        orders=ORDERS)
    assert "did you mean 'Account ID'?" in problems[0]


def test_dates_in_another_format_are_an_error_not_nulls(tiers_runner, tmp_path):
    export = tmp_path / "cases.csv"
    shutil.copyfile(EXAMPLE / "crm_cases.csv", export)
    tiers_runner.register(crm_export)
    with pytest.raises(DataError) as info:
        tiers_runner.run(ruleset(export, date_format="%d/%m/%Y"), orders=ORDERS,
                         as_of="2026-06-01")
    message = info.value.render()
    assert "row(s) have a 'Date Opened' that is not a date in the format %d/%m/%Y" in message
    assert "e.g. account 'A-101': '02/17/2026'" in message


def test_missing_file(tiers_runner, tmp_path):
    tiers_runner.register(crm_export)
    problems = tiers_runner.problems(ruleset(tmp_path / "none.csv"), orders=ORDERS)
    assert "sources.cases.path: CRM export not found" in problems[0]


def test_installed_through_the_entry_point():
    assert installed_component("source", "crm_export") is crm_export.CrmExportSource
