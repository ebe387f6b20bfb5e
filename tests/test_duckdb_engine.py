"""DuckDB settings from the environment: memory limit, spill folder, threads, database file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiers.engine.backends import connect
from tiers.engine.backends.duckdb import DuckDBConfigError, connect_duckdb
from tiers.pipeline import run
from tiers.ruleset.loader import load_ruleset

RETAIL = Path(__file__).resolve().parent.parent / "rulesets" / "retail.yaml"


def setting(con: object, name: str) -> str:
    return con.raw_sql(f"SELECT current_setting('{name}')").fetchone()[0]  # type: ignore[attr-defined]


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    con = connect_duckdb({"TIERS_DUCKDB_MEMORY_LIMIT": "512MB",
                          "TIERS_DUCKDB_TEMP_DIR": str(spill), "TIERS_DUCKDB_THREADS": "1"})
    assert setting(con, "memory_limit") in ("512.0 MiB", "488.2 MiB")
    assert setting(con, "temp_directory") == str(spill)
    assert int(setting(con, "threads")) == 1


def test_a_database_file_is_used_when_named(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "tiers.duckdb"
    monkeypatch.setenv("TIERS_DUCKDB_DATABASE", str(db))
    monkeypatch.setenv("TIERS_DUCKDB_MEMORY_LIMIT", "2GB")
    result = run(load_ruleset(RETAIL), con=connect("duckdb"))
    assert result.customers == 4000
    assert db.exists()


def test_a_bad_setting_is_a_clear_error() -> None:
    with pytest.raises(DuckDBConfigError, match="TIERS_DUCKDB_MEMORY_LIMIT") as info:
        connect_duckdb({"TIERS_DUCKDB_MEMORY_LIMIT": "lots"})
    assert "Fix or unset" in str(info.value)
