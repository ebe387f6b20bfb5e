"""A state file that is not a usable SQLite database and an as-of at the edge of the calendar
give a message that names the file (or the date) and the fix, exit non-zero, and record
nothing: no traceback, no run, no export, no store created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.shop import COUPON, tree, write_shop


def no_traceback(res) -> str:
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.output


def real_store(folder: Path) -> Path:
    """A store with one recorded run, in its own folder."""
    from tests.shop import run_shop

    folder.mkdir()
    ruleset = write_shop(folder, COUPON)
    run_shop(ruleset, f"sqlite:///{folder / 'state.db'}")
    return folder / "state.db"


BAD_FILES = {
    "random bytes": lambda tmp: os.urandom(8192),
    "a text file": lambda tmp: b"customer_id,tier\nC1,vip\n" * 50,
    "a truncated store": lambda tmp: real_store(tmp / "good").read_bytes()[:3000],
    "a SQLite header and garbage": lambda tmp: b"SQLite format 3\x00" + os.urandom(5000),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
@pytest.mark.parametrize("command", [["run"], ["run", "--dry-run"], ["runs"], ["export"],
                                     ["history", "C1"]])
def test_unusable_state_file_is_named_with_the_fix(cli, tmp_path, kind, command):
    ruleset = write_shop(tmp_path, COUPON)
    bad = tmp_path / "state.db"
    bad.write_bytes(BAD_FILES[kind](tmp_path))
    before = tree(tmp_path)
    name, *flags = command
    if name in ("runs", "history"):
        args = [name, *flags, "--state", f"sqlite:///{bad}"]
    else:
        args = [name, ruleset, *flags, "--state", f"sqlite:///{bad}"]
    res = cli(*args)
    text = no_traceback(res)
    assert res.exit_code == 6, text
    assert str(bad) in text and "is not a SQLite database or is damaged" in text, text
    assert "fix: restore the file from a backup, or move it aside" in text
    assert tree(tmp_path) == before  # the file untouched, no export, no rejects


def test_a_folder_as_the_state_store_is_refused(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON)
    folder = tmp_path / "state.db"
    folder.mkdir()
    res = cli("run", ruleset, "--state", f"sqlite:///{folder}")
    text = no_traceback(res)
    assert res.exit_code == 6 and f"{folder} is a folder" in text and "fix:" in text
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("as_of, message", [
    ("0001-01-01", "outside the dates tiers evaluates at (1900-01-01 to 2999-12-31)"),
    ("1899-12-31", "outside the dates tiers evaluates at"),
    ("9999-12-31", "outside the dates tiers evaluates at"),
    ("3000-01-01", "outside the dates tiers evaluates at"),
    ("10000-01-01", "year 10000 is not on the calendar"),
    ("0000-01-01", "year 0 is not on the calendar"),
    ("2026-02-30", "February 2026 has 28 days"),
    ("2024-02-30", "February 2024 has 29 days"),
    ("2026-13-01", "there is no month 13"),
    ("yesterday", "use YYYY-MM-DD"),
])
@pytest.mark.parametrize("command", ["run", "explain", "report"])
def test_as_of_at_the_edge_of_the_calendar_is_refused(cli, tmp_path, as_of, message, command):
    ruleset = write_shop(tmp_path, COUPON)
    before = tree(tmp_path)
    args = {"run": ["run", ruleset], "explain": ["explain", ruleset, "C1"],
            "report": ["report", ruleset, "--html", tmp_path / "r.html"]}[command]
    res = cli(*args, "--as-of", as_of)
    text = no_traceback(res)
    assert res.exit_code == 2, text  # a bad option value (docs/cli.md)
    assert message in text and "fix:" in text, text
    assert tree(tmp_path) == before  # no store, no run recorded, no export


@pytest.mark.parametrize("window", ["{kind: rolling, days: 900000}",
                                    "{kind: rolling, days: 739800}"])
def test_a_window_that_would_start_before_year_one_is_refused_before_recording(
        cli, tmp_path, window):
    ruleset = write_shop(tmp_path, COUPON)
    ruleset.write_text(ruleset.read_text().replace("{kind: rolling, days: 365}", window))
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = cli("run", ruleset, "--state", url)
    text = no_traceback(res)
    assert res.exit_code == 2, text
    assert "shop.yaml:6: window: at as-of 2026-06-01 this would reach outside the calendar" \
        in text, text
    assert not (tmp_path / "s.db").exists() and not (tmp_path / ".tiers").exists()


def test_the_edges_of_the_range_still_run(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON)
    url = f"sqlite:///{tmp_path / 's.db'}"
    for as_of in ("1900-01-01", "2999-12-31"):
        res = cli("run", ruleset, "--as-of", as_of, "--state", url)
        assert res.exit_code == 0, res.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM runs ORDER BY id")).scalars().all()
    engine.dispose()
    assert statuses == ["done", "done"]
