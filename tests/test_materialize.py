"""Results come back as Arrow with the types Ibis promised, without importing pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ibis

from tiers.engine.fetch import to_arrow

ROOT = Path(__file__).resolve().parent.parent


def test_to_arrow_on_duckdb_keeps_the_ibis_schema() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"k": ["a", "b", None], "v": [1, None, 3]})
    expr = t.mutate(r=t.v.fill_null(0).cast("int8"), d=t.v.cast("decimal(18, 2)"))
    out = to_arrow(con, expr)
    assert out.schema == expr.schema().to_pyarrow()
    assert out["r"].to_pylist() == [1, 0, 3]
    assert out["k"].to_pylist() == ["a", "b", None]


def test_a_run_does_not_import_pandas() -> None:
    code = (
        "import sys\n"
        "from tiers.ruleset.loader import load_ruleset\n"
        "from tiers.pipeline import run\n"
        f"r = run(load_ruleset({str(ROOT / 'rulesets' / 'retail.yaml')!r}))\n"
        "assert r.customers == 4000\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_out_fetches_only_the_exported_columns(tmp_path: Path) -> None:
    """--out moves the exported columns out of the engine, not the whole per-customer result,
    and writes the same values as the result holds."""
    import pyarrow.parquet as pq

    from tests.shop import write_shop
    from tiers.pipeline import run
    from tiers.ruleset.loader import load_ruleset

    ruleset = write_shop(tmp_path)
    out = tmp_path / "out.parquet"
    result = run(load_ruleset(ruleset), out=out)
    assert "table" not in result._fetched
    written = pq.read_table(out)
    assert written.column_names == result.export_columns()
    assert written.sort_by("customer_id").equals(
        result.table.select(result.export_columns()).sort_by("customer_id"))
    assert written.num_rows == 6
