"""Results come back as Arrow with the types Ibis promised, without importing pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ibis
import pytest

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


def test_a_json_dry_run_loads_no_mail_or_terminal_modules(tmp_path: Path) -> None:
    """Every run loads the built-in plugins; the email one and the rich tables load what they
    need when they send or print, not at start-up (about 40 ms of every command)."""
    import shutil

    target = tmp_path / "rulesets"
    shutil.copytree(ROOT / "rulesets", target, ignore=shutil.ignore_patterns(".tiers"))
    code = (
        "import sys\n"
        "from tiers.cli import main\n"
        f"sys.argv = ['tiers', 'run', {str(target / 'retail.yaml')!r}, '--dry-run',"
        " '--format', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ['smtplib', 'ssl', 'rich.console', 'rich.table']\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert '"customers": 4000' in out.stdout
    assert out.stderr.strip() == ""


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_out_writes_the_exported_columns_without_fetching_the_result(tmp_path: Path,
                                                                     suffix: str) -> None:
    """--out never moves the whole per-customer result out of the engine (a Parquet file is
    written by DuckDB itself) and holds the result's own values and types, as pyarrow would
    write them."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from tests.shop import write_shop
    from tiers.core.files import write_table
    from tiers.pipeline import run
    from tiers.ruleset.loader import load_ruleset

    ruleset = write_shop(tmp_path)
    out = tmp_path / f"out{suffix}"
    result = run(load_ruleset(ruleset), out=out)
    assert "table" not in result._fetched
    expected = result.table.select(result.export_columns())
    by_pyarrow = tmp_path / f"expected{suffix}"
    write_table(expected, by_pyarrow)
    read = pq.read_table if suffix == ".parquet" else pacsv.read_csv
    written, reference = read(out), read(by_pyarrow)
    assert written.column_names == result.export_columns()
    assert written.schema == reference.schema
    assert written.sort_by("customer_id").equals(reference.sort_by("customer_id"))
    assert written.num_rows == 6


def test_an_out_file_that_cannot_be_written_is_a_clear_error(tmp_path: Path,
                                                            monkeypatch) -> None:
    import errno

    from tests.shop import write_shop
    from tiers.core import files
    from tiers.core.outputs import OutputError
    from tiers.pipeline import run
    from tiers.ruleset.loader import load_ruleset

    def full(path, write):  # the disk fills while the file is written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "write_atomic", full)
    out = tmp_path / "out.parquet"
    with pytest.raises(OutputError) as caught:
        run(load_ruleset(write_shop(tmp_path)), out=out)
    text = caught.value.render()
    assert "could not be written" in text and "No space left" in text
    assert "run the same command again" in text
    assert not out.exists()
