"""Action selection, idempotency keys, dry runs, and the coupon, dedicated_rep and export
actions."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tests.shop import VIPS, run_shop, write_shop
from tiers.core.action import idempotency_key, period_label
from tiers.core.errors import RulesetError
from tiers.plugins.actions.coupon import coupons_table
from tiers.plugins.actions.dedicated_rep import assignments_table
from tiers.store.schema import ledger

coupons = coupons_table()
rep_assignments = assignments_table()


def select(url: str, *cols, where=None) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        q = sa.select(*cols)
        out = [tuple(r) for r in conn.execute(q.where(where) if where is not None else q)]
    engine.dispose()
    return out


def test_idempotency_key_is_a_stable_hash_of_its_parts():
    expected = hashlib.sha256(b"shop\x1fvip_mail\x1fC1\x1ftier:vip\x1f2026-06")
    assert idempotency_key("shop", "vip_mail", "C1", "tier:vip", "2026-06") == (
        expected.hexdigest()[:32])
    as_of = dt.datetime(2026, 8, 15)
    assert [period_label(as_of, p) for p in ("day", "month", "quarter", "year", "once")] == [
        "2026-08-15", "2026-08", "2026-Q3", "2026", "once"]


@pytest.mark.parametrize("when, expected", [
    ("{tier: vip}", VIPS),
    ("{tier: [senior, normal]}", ["C3", "C4", "C6"]),
    ("{expression: 'spend > 5800'}", ["C1", "C5"]),
    ("{tier: vip, expression: 'spend < 6500'}", ["C1", "C2"]),
])
def test_when_selects_customers(tmp_path, when, expected):
    ruleset = write_shop(tmp_path, f"""
        - type: export
          what: assignments
          when: {when}
          path: out.csv
        """)
    run_shop(ruleset, f"sqlite:///{tmp_path / 's.db'}")
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        assert sorted(r["customer_id"] for r in csv.DictReader(fh)) == expected


def test_when_segment_and_event_select_from_the_run(tmp_path):
    """Segments and events come from the engine; here given directly as the plan input."""
    import ibis
    import pyarrow as pa

    from tiers.actions.select import select
    from tiers.core.action import PlanInput
    from tiers.core.plugins import get_plugin_manager
    from tiers.ruleset.loader import load_ruleset

    ruleset = write_shop(tmp_path, """
        - type: webhook
          id: seg
          when: {segment: returning}
          url: http://127.0.0.1:9/x
        - type: webhook
          id: up
          when: {event: upgraded, tier: vip}
          url: http://127.0.0.1:9/x
        """)
    pm, registry = get_plugin_manager(entry_points=False)
    loaded = load_ruleset(ruleset, registry=registry, pm=pm)
    table = pa.table({"customer_id": ["C1", "C2", "C3"], "tier": ["vip", "vip", "senior"],
                      "segments": [["returning"], [], ["returning", "x"]]})
    events = pa.table({"customer_id": ["C1", "C2", "C3"],
                       "event": ["upgraded", "upgraded", "upgraded"],
                       "detail": ["vip", "vip", "senior"]})
    inp = PlanInput("shop", dt.datetime(2026, 6, 1), ibis.memtable(table),
                    ibis.memtable(events), table, ["normal", "senior", "vip"], selector=select)
    seg, up = loaded.actions
    assert [(i.customer_id, i.event, i.detail) for i in seg.plan(inp)] == [
        ("C1", "segment", "returning"), ("C3", "segment", "returning")]
    assert [(i.customer_id, i.event, i.detail) for i in up.plan(inp)] == [
        ("C1", "upgraded", "vip"), ("C2", "upgraded", "vip")]


@pytest.mark.parametrize("action, message, line", [
    ("- type: coupon\n  value: 5\n", "`when:` is empty", 17),
    ("- type: coupon\n  value: 5\n  when: {tier: vipp}\n", "unknown tier 'vipp'", 19),
    ("- type: coupon\n  value: 5\n  when: {event: upgrade}\n", "unknown event 'upgrade'", 19),
    ("- type: coupon\n  value: {gold: 5}\n  when: {tier: vip}\n",
     "value key 'gold' is neither a tier id nor an event", 18),
    ("- type: dedicated_rep\n  roster: none.csv\n  when: {tier: vip}\n", "does not exist", 18),
    ("- type: export\n  what: assignments\n", "give exactly one of `path`", 17),
])
def test_bad_action_config_names_the_line(tmp_path, action, message, line):
    ruleset = write_shop(tmp_path, action)
    with pytest.raises(RulesetError) as e:
        run_shop(ruleset, f"sqlite:///{tmp_path / 's.db'}")
    problem = next(p for p in e.value.problems if message in p.message)
    assert problem.line == line and problem.file == str(ruleset)
    assert problem.hint


COUPON = """
    - type: coupon
      id: vip_discount
      when: {tier: vip}
      value: {vip: 50, default: 10}
      valid_days: 30
      prefix: VIP-
      period: year
    """


def test_dry_run_writes_nothing_anywhere(tmp_path):
    ruleset = write_shop(tmp_path, COUPON)
    result = run_shop(ruleset, True, dry_run=True)
    assert not (tmp_path / ".tiers").exists()  # no store, no export, nothing
    (plan,) = result.plans
    assert [i.customer_id for i in plan.intents] == VIPS and plan.known == 0
    assert plan.action.describe(plan.intents[0]) == "C1: 50 until 2026-07-01"
    run_shop(ruleset, True)
    db = tmp_path / ".tiers" / "state.db"
    before = db.read_bytes()
    again = run_shop(ruleset, True, dry_run=True)
    assert again.plans[0].known == 3 and again.applied is None
    assert db.read_bytes() == before


def test_coupons_are_unique_hmac_codes_issued_once_and_exported(tmp_path, monkeypatch):
    import hmac

    monkeypatch.setenv("TIERS_COUPON_SECRET", "k3y")
    url = f"sqlite:///{tmp_path / 's.db'}"
    ruleset = write_shop(tmp_path, COUPON)
    first = run_shop(ruleset, url)
    run_shop(ruleset, url, as_of="2026-07-01")  # same year: nothing new
    issued = select(url, coupons.c.customer_id, coupons.c.code, coupons.c.value,
                    coupons.c.valid_until, coupons.c.key)
    assert sorted(r[0] for r in issued) == VIPS
    for _cid, code, value, valid_until, key in issued:
        assert re.fullmatch(r"VIP-[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code)
        import base64

        mac = base64.b32encode(hmac.new(b"k3y", key.encode(), hashlib.sha256).digest())
        assert code.replace("-", "")[3:] == mac.decode()[:16]
        assert float(value) == 50 and valid_until == dt.datetime(2026, 7, 1)
    export = tmp_path / ".tiers" / "exports" / "vip_discount-2026-06-01.csv"
    with open(export, newline="", encoding="utf-8") as fh:
        exported = sorted((r["customer_id"], r["code"]) for r in csv.DictReader(fh))
    assert exported == sorted((r[0], r[1]) for r in issued)
    assert first.applied.actions[0].done == 3


def test_coupon_budget_cap_defers_the_rest_to_a_later_run(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    ruleset = write_shop(tmp_path, COUPON + "  budget: 120\n")
    first = run_shop(ruleset, url)
    (stats,) = first.applied.actions
    assert (stats.done, stats.deferred, stats.failed) == (2, 1, 0)
    assert any("1 coupon worth 50.00 not issued (budget 120.00 reached)" in n
               for n in stats.notes)
    assert any("store's own secret" in n for n in stats.notes)
    assert len(select(url, coupons.c.code)) == 2
    second = run_shop(ruleset, url, as_of="2026-06-02")
    assert second.applied.actions[0].done == 1 and len(select(url, coupons.c.code)) == 3


def test_dedicated_reps_are_balanced_sticky_and_released(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    (tmp_path / "roster.csv").write_text("rep_id,name,capacity\nr1,Ann,1\nr2,Bob,2\n")
    action = """
        - type: dedicated_rep
          id: reps
          when: {tier: vip}
          roster: roster.csv
        """
    ruleset = write_shop(tmp_path, action)
    run_shop(ruleset, url)
    active = sa.and_(rep_assignments.c.released_at.is_(None))
    first = dict(select(url, rep_assignments.c.customer_id, rep_assignments.c.rep_id,
                        where=active))
    assert first == {"C1": "r1", "C2": "r2", "C5": "r2"}  # lowest load share first
    write_shop(tmp_path, action, spend={"C2": 100, "C3": 9000})  # C2 drops, C3 rises
    second = run_shop(ruleset, url, as_of="2026-06-02")
    now = dict(select(url, rep_assignments.c.customer_id, rep_assignments.c.rep_id,
                      where=active))
    assert now == {"C1": "r1", "C5": "r2", "C3": "r2"}  # sticky; C2 released, C3 takes r2
    assert second.applied.actions[0].done == 2
    write_shop(tmp_path, action, spend={"C2": 100, "C3": 9000, "C6": 8000})
    third = run_shop(ruleset, url, as_of="2026-06-03")
    assert third.applied.failed == 1
    assert "every rep in roster.csv is at capacity" in third.applied.actions[0].errors[0]


def test_bad_roster_capacity_names_the_roster_line(tmp_path):
    (tmp_path / "roster.csv").write_text("rep_id,capacity\nr1,5\nr2,many\n")
    ruleset = write_shop(tmp_path, """
        - type: dedicated_rep
          when: {tier: vip}
          roster: roster.csv
        """)
    with pytest.raises(RulesetError) as e:
        run_shop(ruleset, f"sqlite:///{tmp_path / 's.db'}")
    (p,) = e.value.problems
    assert p.file.endswith("roster.csv") and p.line == 3 and "'many'" in p.message


def test_export_intents_to_parquet_and_assignments_to_a_table(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    ruleset = write_shop(tmp_path, COUPON + """
    - type: export
      id: intents_file
      what: intents
      path: out/intents-{as_of}.parquet
    - type: export
      id: tiers_table
      what: assignments
      table: tier_export
      columns: [customer_id, tier]
    """)
    run_shop(ruleset, url)
    intents = pq.read_table(tmp_path / "out" / "intents-2026-06-01.parquet").to_pylist()
    coupon_rows = [r for r in intents if r["action"] == "vip_discount"]
    assert sorted(r["customer_id"] for r in coupon_rows) == VIPS
    assert {r["status"] for r in coupon_rows} == {"done"}  # exported after the coupons
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT customer_id, tier, run_id FROM tier_export "
                                   "ORDER BY customer_id")).all()
    engine.dispose()
    assert [(r[0], r[1]) for r in got][:2] == [("C1", "vip"), ("C2", "vip")] and len(got) == 6
    assert len(select(url, ledger.c.key)) == 5  # 3 coupons + 2 exports
