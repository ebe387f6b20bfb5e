"""The bundled sample rulesets run from the CLI, and their tiers match an independent
computation in plain Python straight from the CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiers.cli.app import app, build_app
from tiers.engine.evaluate import evaluate
from tiers.ruleset.loader import load_ruleset

RULESETS = Path(__file__).resolve().parent.parent / "rulesets"
DATA = RULESETS / "data"


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Run the CLI on a copy of the bundled rulesets: a run records its state beside the
    ruleset, and the checkout must stay as it was."""
    build_app()
    runner = CliRunner()
    copy = tmp_path_factory.mktemp("rulesets") / "rulesets"
    shutil.copytree(RULESETS, copy, ignore=shutil.ignore_patterns(".tiers"))

    def on_copy(arg: object) -> str:
        if isinstance(arg, Path) and arg.is_relative_to(RULESETS):
            return str(copy / arg.relative_to(RULESETS))
        return str(arg)

    def invoke(*args: object) -> dict:
        res = runner.invoke(app, [on_copy(a) for a in args])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    return invoke


def counts(summary: dict) -> dict[str, int]:
    return {t["tier"]: t["customers"] for t in summary["tiers"]}


def window_totals(orders: list[dict[str, str]], start: dt.datetime, end: dt.datetime,
                  ts_col: str) -> tuple[dict[str, float], dict[str, int]]:
    spend: dict[str, float] = defaultdict(float)
    n: dict[str, int] = defaultdict(int)
    for o in orders:
        t = ts(o[ts_col])
        if start <= t < end:
            amount = float(o["amount"])
            spend[o["customer_id"]] += amount
            n[o["customer_id"]] += amount >= 0
    return spend, n


def test_retail(cli):
    as_of = dt.datetime(2026, 11, 21)
    start = as_of - dt.timedelta(days=365)
    orders = read(DATA / "retail" / "orders.csv")
    spend, n = window_totals(orders, start, as_of, "ordered_at")
    scores: dict[str, list[int]] = defaultdict(list)
    for s in read(DATA / "retail" / "surveys.csv"):
        if start <= ts(s["ts"]) < as_of:
            scores[s["customer_id"]].append(int(s["score"]))
    ids = {c["customer_id"] for c in read(DATA / "retail" / "customers.csv")}
    expected = Counter()
    returning = 0
    for c in ids:
        ranks = [2 if spend[c] >= 5000 else 1 if spend[c] >= 1000 else 0,
                 2 if n[c] >= 20 else 1 if n[c] >= 10 else 0]
        if scores[c]:
            avg = sum(scores[c]) / len(scores[c])
            ranks.append(2 if avg >= 95 else 1 if avg >= 90 else 0)
        expected[["normal", "senior", "vip"][max(ranks)]] += 1
        returning += n[c] >= 2 and spend[c] > 40
    summary = cli("run", RULESETS / "retail.yaml", "--format", "json")
    assert counts(summary) == dict(expected)
    assert expected["vip"] > expected["senior"] / 4 > 0  # bands and frequency both matter

    ev = evaluate(load_ruleset(RULESETS / "retail.yaml"))
    t = ev.con.to_pyarrow(ev.table.select("customer_id", "segments", "points_balance",
                                          "lifecycle_state")).to_pylist()
    assert sum("returning_customer" in r["segments"] for r in t) == returning
    assert all(r["points_balance"] >= 0 for r in t)
    assert sum(r["points_balance"] for r in t) > 0
    states = Counter(r["lifecycle_state"] for r in t)
    assert set(states) <= {"new", "active", "returning", "dormant", "churned", "prospect"}
    assert all(sum(s in r["segments"] for s in states) == 1 for r in t)


def test_airline(cli):
    as_of = dt.datetime(2027, 1, 1)
    start = dt.datetime(2026, 1, 1)
    spend, _ = window_totals(read(DATA / "airline" / "tickets.csv"), start, as_of, "order_ts")
    segs: dict[str, int] = defaultdict(int)
    for t in read(DATA / "airline" / "trips.csv"):
        if start <= ts(t["ts"]) < as_of:
            segs[t["customer_id"]] += int(t["segments"])
    expected = Counter()
    for c in {m["customer_id"] for m in read(DATA / "airline" / "members.csv")}:
        s, g = spend[c], segs[c]
        tier = ("platinum" if s >= 20000 or g >= 100 else "gold" if s >= 12000 or g >= 60
                else "silver" if s >= 6000 or g >= 30 else "blue")
        expected[tier] += 1
    summary = cli("run", RULESETS / "airline.yaml", "--format", "json")
    assert counts(summary) == dict(expected)
    # the OR matters: some members qualify by segments alone, others by spend alone
    assert any(segs[c] >= 30 and spend[c] < 6000 for c in segs)
    assert any(segs[c] < 30 and spend[c] >= 6000 for c in segs)


def test_education(cli):
    as_of = dt.datetime(2026, 9, 1)
    start = as_of - dt.timedelta(days=180)
    spend, _ = window_totals(read(DATA / "education" / "purchases.csv"), start, as_of,
                             "order_ts")
    sessions: dict[str, int] = defaultdict(int)
    for s in read(DATA / "education" / "sessions.csv"):
        if start <= ts(s["ts"]) < as_of:
            sessions[s["customer_id"]] += 1
    referred: dict[str, set[str]] = defaultdict(set)
    for r in read(DATA / "education" / "referrals.csv"):
        if ts(r["ts"]) < as_of:
            referred[r["customer_id"]].add(r["referred_id"])
    first: dict[str, dt.datetime] = {}
    for o in read(DATA / "education" / "purchases.csv"):
        t = ts(o["order_ts"])
        if t < as_of:
            first[o["customer_id"]] = min(first.get(o["customer_id"], t), t)
    expected = Counter()
    for row in read(DATA / "education" / "learners.csv"):
        c = row["customer_id"]
        signup = dt.datetime.fromisoformat(row["signup_date"])
        tenure = ((as_of - min(signup, first.get(c, signup))) // dt.timedelta(days=1))
        n = sessions[c]
        if n >= 20 and spend[c] >= 1000 and len(referred[c]) >= 3:
            tier = "vip"
        elif n >= 20 and tenure >= 180:
            tier = "loyal"
        elif n >= 8:
            tier = "active"
        else:
            tier = "entry"
        expected[tier] += 1
    summary = cli("run", RULESETS / "education.yaml", "--format", "json")
    assert counts(summary) == dict(expected)
    # referrals matter: some learners would be VIP on activity and spend alone
    assert any(sessions[c] >= 20 and spend[c] >= 1000 and len(referred[c]) < 3
               for c in sessions)


@pytest.mark.parametrize("name", ["retail", "airline", "education"])
def test_validate(name):
    res = CliRunner().invoke(app, ["validate", str(RULESETS / f"{name}.yaml")])
    assert res.exit_code == 0, res.output
    assert "OK" in res.output
