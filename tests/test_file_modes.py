"""Every file tiers writes gets the mode the umask gives (as `open()` would), never the 0600
of its temporary file: reports on a shared drive stay readable to colleagues."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, write_csv

RULESET = """\
    name: shop
    as_of: 2026-06-01
    sources:
      orders: {type: csv, path: data/orders.csv, max_reject_share: 0.9}
      customers: {type: csv, path: data/customers.csv}
    window: {kind: rolling, days: 365}
    tiers:
      - id: normal
      - id: vip
    policies:
      - type: spend
        thresholds: {vip: 5000}
    actions:
      - type: coupon
        id: welcome
        when: {tier: vip}
        value: 50
      - type: email
        id: hello
        when: {event: entered}
        template: hello
        from: "Shop <club@shop.example>"
        transport: outbox
        outbox: outbox
    """


def tiers(umask: int, cwd: Path, *args: object) -> None:
    """The CLI in a subprocess started under ``umask``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = " ".join(f"'{a}'" for a in [sys.executable, "-m", "tiers", *map(str, args)])
    res = subprocess.run(["sh", "-c", f"umask {umask:03o} && exec {command}"], cwd=cwd,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_writer_gives_the_umask_mode(tmp_path: Path, umask: int) -> None:
    write_csv(tmp_path / "data" / "orders.csv", ["order_id", "customer_id", "order_ts", "amount"],
              [("O1", "C1", "2026-05-01 10:00:00", "6000.00"),
               ("O2", "C2", "2026-05-02 10:00:00", "120.00"),
               ("O3", "C3", "2026-05-02 10:00:00", "lots")])
    write_csv(tmp_path / "data" / "customers.csv", ["customer_id", "email"],
              [("C1", "c1@example.com"), ("C2", "c2@example.com")])
    for name, text in {"subject.txt": "Hello", "body.txt": "Hello {{ customer_id }}"}.items():
        (tmp_path / "templates" / "hello").mkdir(parents=True, exist_ok=True)
        (tmp_path / "templates" / "hello" / name).write_text(text, encoding="utf-8")
    (tmp_path / "shop.yaml").write_text(textwrap.dedent(RULESET), encoding="utf-8")

    tiers(umask, tmp_path, "run", "shop.yaml", "--out", "out/customers.csv")
    tiers(umask, tmp_path, "run", "shop.yaml", "--out", "out/customers.parquet")
    tiers(umask, tmp_path, "report", "shop.yaml", "--html", "out/report.html")
    tiers(umask, tmp_path, "diff", "shop.yaml", "shop.yaml", "--out", "out/affected.csv")
    tiers(umask, tmp_path, "schema", "-o", "out/tiers.schema.json")
    tiers(umask, tmp_path, "new-plugin", "greeter", "--dir", "out")

    expected = 0o666 & ~umask
    written = {
        "--out csv": tmp_path / "out" / "customers.csv",
        "--out parquet": tmp_path / "out" / "customers.parquet",
        "report": tmp_path / "out" / "report.html",
        "diff --out": tmp_path / "out" / "affected.csv",
        "schema": tmp_path / "out" / "tiers.schema.json",
        "coupon export": next((tmp_path / ".tiers" / "exports").glob("welcome-*.csv")),
        "e-mail outbox": next((tmp_path / "outbox").glob("*.eml")),
        "rejects": tmp_path / "rejects" / "shop.orders.csv",
        "scaffold file": tmp_path / "out" / "tiers-greeter" / "pyproject.toml",
    }
    assert {k: oct(mode(p)) for k, p in written.items()} == {
        k: oct(expected) for k in written}
    assert oct(mode(tmp_path / "out" / "tiers-greeter")) == oct(0o777 & ~umask)
    # no temporary file is left beside any of them
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []
