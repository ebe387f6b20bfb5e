"""Helpers for tier-semantics tests: previous-state tables and evaluated rows and events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tiers.core.record import PREVIOUS_STATE_SCHEMA
from tiers.engine.evaluate import evaluate
from tiers.ruleset.loader import load_ruleset


def previous_table(rows: list[dict[str, Any]]) -> Any:
    """A previous-state Ibis table (PREVIOUS_STATE_SCHEMA) built from pyarrow."""
    import ibis
    import pyarrow as pa

    types = {"string": pa.string(), "int8": pa.int8(), "timestamp": pa.timestamp("us"),
             "array<string>": pa.list_(pa.string())}
    schema = pa.schema([(c, types[t]) for c, t in PREVIOUS_STATE_SCHEMA.items()])
    full = [{c: r.get(c, [] if c == "segments" else None) for c in schema.names} for r in rows]
    return ibis.memtable(pa.Table.from_pylist(full, schema=schema))


def prev(cid: str, tier: str, rank: int, since: dt.datetime = dt.datetime(2025, 1, 1),
         held_until: dt.datetime | None = None, segments: list[str] | None = None
         ) -> dict[str, Any]:
    return {"customer_id": cid, "tier": tier, "tier_rank": rank, "since": since,
            "held_until": held_until, "segments": segments or []}


def evaluated(path: Path, previous: list[dict[str, Any]] | None = None, as_of: Any = None
              ) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str, str | None]]]:
    """customer_id -> row, and the sorted events (customer_id, event, detail)."""
    loaded = load_ruleset(path)
    ev = evaluate(loaded, as_of, previous=previous_table(previous) if previous is not None
                  else None)
    rows = {r["customer_id"]: r for r in ev.con.to_pyarrow(ev.table).to_pylist()}
    assert ev.events is not None
    events = sorted((e["customer_id"], e["event"], e["detail"])
                    for e in ev.con.to_pyarrow(ev.events).to_pylist())
    return rows, events
