"""A run's outputs are checked before anything is evaluated, recorded or sent: an output that
is an input, a folder, under a file, in a system folder or of an unknown type is refused with
the fix, and nothing is written anywhere. A dry run writes no file at all."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write_csv
from tests.shop import COUPON, tree, write_shop


def refused(res, *words: str) -> str:
    text = res.output
    # an unsupported file type is a bad option value (2); any other refused path a failed write
    assert res.exit_code == (2 if any("unsupported file type" in w for w in words) else 1), text
    assert "Traceback" not in text, text
    assert res.exception is None or isinstance(res.exception, SystemExit), text
    for word in words:
        assert word in text, text
    assert "fix:" in text, text
    return text


def shop_with_inputs(folder: Path) -> Path:
    """A ruleset reading a glob of order files, a parquet folder, pins, a roster and
    templates: one of each kind of input."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ruleset = write_shop(folder, COUPON + """
    - type: dedicated_rep
      id: reps
      when: {tier: vip}
      roster: roster.csv
    - type: email
      id: mail
      when: {tier: vip}
      template: tier_up
      from: club@shop.example
    """, extra="overrides: pins.csv\n")
    text = ruleset.read_text().replace(
        "orders: {type: csv, path: data/orders.csv}",
        "orders: {type: csv, path: 'data/orders*.csv'}\n"
        "  extra: {type: parquet, path: lake}")
    ruleset.write_text(text)
    (folder / "lake").mkdir()
    pq.write_table(pa.table({"customer_id": ["C1"], "note": ["x"]}), folder / "lake" / "a.parquet")
    write_csv(folder / "pins.csv", ["customer_id", "tier", "until", "reason"], [])
    write_csv(folder / "roster.csv", ["rep_id", "capacity"], [("r1", 5)])
    return ruleset


@pytest.mark.parametrize("out", [
    "data/orders.csv",            # a source file
    "data/orders-2027.csv",       # a file the source's glob would read next time
    "lake/b.parquet",             # inside a parquet source folder
    "pins.csv",                   # the overrides (pins)
    "roster.csv",                 # a roster
    "templates/tier_up/x.csv",    # inside the templates folder
    "state.csv",                  # the state store's own file
])
def test_out_refuses_every_input_of_the_ruleset(cli, tmp_path, out):
    ruleset = shop_with_inputs(tmp_path)
    state = f"sqlite:///{tmp_path / 'state.csv'}"
    if out == "state.csv":
        (tmp_path / "state.csv").write_bytes(b"")  # an empty file is a new SQLite store
    before = tree(tmp_path)
    res = cli("run", ruleset, "--out", tmp_path / out, "--state", state)
    refused(res, f"--out {tmp_path / out}", "is an input of the job")
    assert tree(tmp_path) == before  # nothing recorded, exported or replaced


def test_out_may_not_replace_the_ruleset_file_itself(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON)
    renamed = ruleset.with_name("shop.csv")  # a YAML ruleset under a table's name
    ruleset.rename(renamed)
    before = tree(tmp_path)
    refused(cli("run", renamed, "--out", renamed), "is an input of the job")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "data", ["is a folder"]),                                  # a folder
    (lambda d: (d / "x.csv").mkdir() or d / "x.csv", ["is a folder"]),        # folder x.csv
    (lambda d: d / "shop.yaml" / "out.csv", ["is a file", "shop.yaml"]),      # under a file
    (lambda d: d / "out.txt", ["unsupported file type '.txt'"]),              # suffix
    (lambda d: d / "out", ["unsupported file type '(none)'"]),                # no suffix
    (lambda d: Path("/proc/tiers-out.csv"), ["system folder"]),               # system
    (lambda d: Path("/etc/tiers/out.csv"), ["system folder"]),
    (lambda d: Path("/dev/null.csv"), ["system folder"]),
])
def test_bad_out_path_is_refused_before_anything_is_recorded_or_sent(cli, tmp_path, make,
                                                                      words):
    ruleset = write_shop(tmp_path, COUPON)
    out = make(tmp_path)
    before = tree(tmp_path)
    refused(cli("run", ruleset, "--out", out), f"--out {out}", *words)
    assert not (tmp_path / ".tiers").exists()  # no store, no run, no coupon export
    assert tree(tmp_path) == before


def _lock_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make ``folder`` unwritable, for root too (root ignores modes but not the immutable
    flag); where the file system has no such flag, the check is told the folder is locked."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return lambda: folder.chmod(0o700)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)
    import tiers.core.outputs as outputs

    real = os.access
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: False if Path(p) == folder
                        else real(p, mode))
    return lambda: None


def test_out_in_an_unwritable_folder_is_refused_first(cli, tmp_path, monkeypatch):
    ruleset = write_shop(tmp_path, COUPON)
    locked = tmp_path / "locked"
    locked.mkdir()
    unlock = _lock_folder(locked, monkeypatch)
    try:
        refused(cli("run", ruleset, "--out", locked / "out.csv"), "not writable")
    finally:
        unlock()
    assert not (tmp_path / ".tiers").exists()


def test_other_commands_check_their_outputs_too(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON)
    before = tree(tmp_path)
    refused(cli("report", ruleset, "--html", tmp_path / "data" / "orders.csv"),
            "unsupported file type '.csv'")
    refused(cli("report", ruleset, "--html", tmp_path / "shop.yaml" / "r.html"), "is a file")
    refused(cli("schema", "--out", tmp_path / "data"), "is a folder")
    refused(cli("schema", "--out", "/etc/tiers.json"), "system folder")
    refused(cli("diff", ruleset, ruleset, "--out", tmp_path / "data" / "orders.csv"),
            "is an input of the job")
    assert tree(tmp_path) == before


def test_coupon_export_path_that_is_an_input_is_refused_before_the_run(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON + "  export: data/customers.csv\n")
    before = tree(tmp_path)
    refused(cli("run", ruleset), "customers.csv", "is an input of the job")
    assert tree(tmp_path) == before


def test_a_rejects_file_that_is_an_input_is_refused_before_the_run(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON)
    ruleset.write_text(ruleset.read_text().replace(
        "path: data/orders.csv}", "path: data/orders.csv, rejects: data/customers.csv}"))
    before = tree(tmp_path)
    refused(cli("run", ruleset), "customers.csv", "is an input of the job")
    assert tree(tmp_path) == before


def test_dry_run_writes_no_file_and_says_what_it_would_write(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON)
    # a bad order row: a real run sets it aside into the rejects file
    orders = tmp_path / "data" / "orders.csv"
    orders.write_text(orders.read_text() + "O99,C1,not a date,12.00\n")
    ruleset.write_text(ruleset.read_text().replace(
        "path: data/orders.csv}", "path: data/orders.csv, max_reject_share: 0.5}"))
    copy = tmp_path.parent / f"{tmp_path.name}-copy"
    shutil.copytree(tmp_path, copy)
    before = tree(copy)
    res = cli("run", copy / "shop.yaml", "--dry-run", "--out", copy / "out.csv")
    assert res.exit_code == 0, res.output
    assert tree(copy) == before  # no rejects, no --out, no store, no export, no outbox
    assert "would write 6 rows to" in res.output and "out.csv" in res.output
    assert "would write 1 set-aside rows to" in res.output
    assert "wrote 6 rows" not in res.output
    assert "nothing was written" in res.output

    res = cli("run", copy / "shop.yaml", "--out", copy / "out.csv")  # the real run writes
    assert res.exit_code == 0, res.output
    assert (copy / "out.csv").exists() and (copy / "rejects").is_dir()
    assert (copy / ".tiers" / "exports" / "vip_discount-2026-06-01.csv").exists()


def test_dry_run_after_a_real_run_leaves_every_byte_alone(cli, tmp_path):
    ruleset = write_shop(tmp_path, COUPON + """
    - type: email
      id: mail
      when: {tier: vip}
      template: tier_up
      from: club@shop.example
    """)
    assert cli("run", ruleset, "--as-of", "2026-06-01").exit_code == 0
    before = tree(tmp_path)
    res = cli("run", ruleset, "--as-of", "2026-07-01", "--dry-run", "--format", "json")
    assert res.exit_code == 0, res.output
    assert tree(tmp_path) == before
    assert '"out": null' in res.output
