"""Helpers for policy tests: write a small ruleset and its data, run it, read rows back."""

from __future__ import annotations

import csv
import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

from tiers.engine.backends import connect
from tiers.engine.evaluate import evaluate
from tiers.engine.metrics import customer_metrics
from tiers.ruleset.loader import load_ruleset

AS_OF = dt.datetime(2026, 7, 1)

HEAD = """\
name: test
as_of: 2026-07-01
sources:
  orders: {type: csv, path: orders.csv}
  customers: {type: csv, path: customers.csv}
"""


def write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def make_ruleset(tmp_path: Path, body: str, orders: list[tuple[Any, ...]],
                 customers: list[tuple[Any, ...]] | None = None,
                 tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] | None = None,
                 head: str = HEAD) -> Path:
    """orders: (customer_id, order_ts, amount); customers: (customer_id, signup_date)."""
    write_csv(tmp_path / "orders.csv", ["customer_id", "order_ts", "amount"], orders)
    ids = sorted({o[0] for o in orders})
    if customers is None:
        customers = [(c, "2020-01-01") for c in ids]
    write_csv(tmp_path / "customers.csv", ["customer_id", "signup_date"], customers)
    extra = ""
    for name, (header, rows) in (tables or {}).items():
        write_csv(tmp_path / f"{name}.csv", header, rows)
        extra += f"  {name}: {{type: csv, path: {name}.csv}}\n"
    path = tmp_path / "ruleset.yaml"
    path.write_text(head + extra + textwrap.dedent(body), encoding="utf-8")
    return path


def run_rows(path: Path, as_of: Any = None) -> dict[str, dict[str, Any]]:
    """Evaluate the ruleset; customer_id -> output row."""
    loaded = load_ruleset(path)
    ev = evaluate(loaded, as_of)
    rows = ev.con.to_pyarrow(ev.table).to_pylist()
    return {r["customer_id"]: r for r in rows}


def tiers_of(path: Path, as_of: Any = None) -> dict[str, str]:
    return {c: r["tier"] for c, r in run_rows(path, as_of).items()}


def segment_rows(path: Path, as_of: Any = AS_OF) -> dict[str, set[str]]:
    """customer_id -> labels granted by the ruleset's segment policies, evaluated on the
    metrics table directly."""
    from tiers.engine.evaluate import add_policy_columns, as_of_instant

    loaded = load_ruleset(path)
    instant = as_of_instant(as_of)
    con = connect()
    tables = {role: s.load(con) for role, s in loaded.sources.items()}
    table = customer_metrics(tables, loaded.metric_specs, instant)
    table = add_policy_columns(loaded, tables, table, instant)
    cols: dict[str, Any] = {}
    for policy in loaded.policies:
        if policy.output == "segment":
            for label, cond in policy.segments(table).items():
                cols[f"seg__{label}"] = cond
    rows = con.to_pyarrow(table.mutate(**cols)).to_pylist()
    return {r["customer_id"]: {k[5:] for k, v in r.items() if k.startswith("seg__") and v}
            for r in rows}


def metric_rows(path: Path, as_of: Any = AS_OF) -> dict[str, dict[str, Any]]:
    """customer_id -> metrics plus policy output columns, without ranks."""
    from tiers.engine.evaluate import add_policy_columns, as_of_instant

    loaded = load_ruleset(path)
    instant = as_of_instant(as_of)
    con = connect()
    tables = {role: s.load(con) for role, s in loaded.sources.items()}
    table = customer_metrics(tables, loaded.metric_specs, instant)
    table = add_policy_columns(loaded, tables, table, instant)
    return {r["customer_id"]: r for r in con.to_pyarrow(table).to_pylist()}
