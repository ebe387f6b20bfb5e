"""The coupon export holds every code of its action and period from the ledger: after several
runs, after a run killed with SIGKILL mid-apply and resumed, and when rebuilt by `tiers export`
after the file was deleted or damaged."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import write_csv
from tiers.plugins.actions.coupon import coupons_table

VIPS = 1300  # three batches of 500: a kill lands after the first has committed
KILL_AFTER = 700

RULESET = """\
name: club
as_of: 2026-06-01
sources:
  orders: {type: csv, path: data/orders.csv}
window: {kind: rolling, days: 365}
tiers:
  - id: normal
  - id: vip
policies:
  - type: spend
    thresholds: {vip: 5000}
actions:
  - type: coupon
    id: vip_discount
    when: {tier: vip}
    value: 25
    period: month
"""

# A real SIGKILL in the middle of applying: the process kills itself once the coupon action
# has handed out KILL_AFTER codes (the first batch of 500 committed, the second not).
KILLER = textwrap.dedent("""\
    import os, signal, sys
    from tiers.plugins.actions import coupon
    real = coupon.CouponAction.apply
    given = [0]  # across batches: apply is called once per batch of 500
    def apply(self, intents, ctx):
        for outcome in real(self, intents, ctx):
            yield outcome
            given[0] += 1
            if given[0] >= {kill_after}:
                os.kill(os.getpid(), signal.SIGKILL)
    coupon.CouponAction.apply = apply
    from tiers.cli.app import main
    sys.argv = ["tiers", *sys.argv[1:]]
    main()
    """)


def club(folder: Path, customers: int = VIPS, offset: int = 0) -> Path:
    write_csv(folder / "data" / "orders.csv", ["order_id", "customer_id", "order_ts", "amount"],
              [(f"O{i}", f"C{i:05d}", "2026-05-01 10:00:00", "6000.00")
               for i in range(offset, offset + customers)])
    ruleset = folder / "club.yaml"
    ruleset.write_text(RULESET, encoding="utf-8")
    return ruleset


def store_codes(url: str) -> set[tuple[str, str]]:
    engine = sa.create_engine(url)
    table = coupons_table()
    with engine.connect() as conn:
        rows = {(r.customer_id, r.code) for r in conn.execute(
            sa.select(table.c.customer_id, table.c.code))}
    engine.dispose()
    return rows


def exported(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [(r["customer_id"], r["code"]) for r in csv.DictReader(fh)]


def tiers(*args: object, killer: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true", "TIERS_COUPON_SECRET": "s3cret"}
    code = ["-c", KILLER.replace("{kill_after}", str(KILL_AFTER))] if killer else [
        "-m", "tiers"]
    return subprocess.run([sys.executable, *code, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_sigkill_mid_apply_then_resume_exports_every_code(tmp_path):
    ruleset = club(tmp_path)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    export = tmp_path / ".tiers" / "exports" / "vip_discount-2026-06-01.csv"

    killed = tiers("run", ruleset, "--state", url, killer=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    issued_before = store_codes(url)
    assert 0 < len(issued_before) < VIPS  # the kill landed mid-apply
    assert not export.exists()  # the run never reached its export

    again = tiers("run", ruleset, "--state", url)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "took over the lock" in again.stdout
    codes = store_codes(url)
    assert len(codes) == VIPS and issued_before <= codes
    assert sorted(exported(export)) == sorted(codes)  # every code, not only the resumed ones
    assert (f"{VIPS:,} codes of period 2026-06 written to" in again.stdout
            and f"({VIPS - len(issued_before)} issued by this run)" in again.stdout)
    leftovers = [p.name for p in export.parent.iterdir() if p != export]
    assert leftovers == []  # written through a temporary file that is gone


def test_later_runs_of_the_period_keep_the_earlier_codes(tmp_path):
    ruleset = club(tmp_path, customers=4)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert tiers("run", ruleset, "--state", url).returncode == 0
    club(tmp_path, customers=3, offset=4)  # four earlier VIPs gone, three new ones
    second = tiers("run", ruleset, "--state", url, "--as-of", "2026-06-15")
    assert second.returncode == 0, second.stderr
    export = tmp_path / ".tiers" / "exports" / "vip_discount-2026-06-15.csv"
    assert sorted(exported(export)) == sorted(store_codes(url))
    assert len(exported(export)) == 7


def test_tiers_export_rebuilds_a_deleted_or_damaged_export_from_the_store(cli, tmp_path):
    ruleset = club(tmp_path, customers=5)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert cli("run", ruleset, "--state", url).exit_code == 0
    export = tmp_path / ".tiers" / "exports" / "vip_discount-2026-06-01.csv"
    codes = sorted(store_codes(url))
    assert sorted(exported(export)) == codes

    export.write_text("code,customer_id\nGARBAGE,", encoding="utf-8")  # damaged
    res = cli("export", ruleset, "--state", url)
    assert res.exit_code == 0, res.output
    assert f"vip_discount: 5 codes of period 2026-06 written to {export}" in res.output
    assert sorted(exported(export)) == codes

    export.unlink()  # deleted, with the whole folder
    export.parent.rmdir()
    res = cli("export", ruleset, "--state", url, "--action", "vip_discount",
              "--period", "2026-06")
    assert res.exit_code == 0, res.output
    assert sorted(exported(export)) == codes


def test_tiers_export_evaluates_and_records_nothing(cli, tmp_path):
    ruleset = club(tmp_path, customers=2)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert cli("run", ruleset, "--state", url).exit_code == 0
    club(tmp_path, customers=6, offset=10)  # a run now would issue six new codes
    before = (tmp_path / "state.db").read_bytes()
    res = cli("export", ruleset, "--state", url)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "state.db").read_bytes() == before
    assert len(exported(tmp_path / ".tiers" / "exports" / "vip_discount-2026-06-01.csv")) == 2


def test_tiers_export_explains_what_it_cannot_do(cli, tmp_path):
    ruleset = club(tmp_path, customers=2)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    res = cli("export", ruleset, "--state", url)
    assert res.exit_code == 1 and "no state store" in res.output and "fix:" in res.output
    assert not (tmp_path / "state.db").exists()
    assert cli("run", ruleset, "--state", url).exit_code == 0
    res = cli("export", ruleset, "--state", url, "--action", "nope")
    assert res.exit_code == 1 and "use one of vip_discount" in res.output
    res = cli("export", ruleset, "--state", url, "--period", "1999-01")
    assert res.exit_code == 0 and "no codes in the ledger for period 1999-01" in res.output
