"""Manual tier pins (see :mod:`tiers.ruleset.overrides`) as an Ibis table the engine joins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from tiers.core.errors import RulesetError
from tiers.ruleset.overrides import Pin, overrides_path, read_pins

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from tiers.core.locations import LineMap
    from tiers.ruleset.models import Ruleset


def pins_table(pins: list[Pin], tier_ids: list[str]) -> pa.Table:
    import pyarrow as pa

    ends = [dt.datetime.combine(p.until + dt.timedelta(days=1), dt.time())
            if p.until else None for p in pins]
    return pa.table({
        "customer_id": pa.array([p.customer_id for p in pins], pa.string()),
        "pin_rank": pa.array([tier_ids.index(p.tier) for p in pins], pa.int8()),
        "pin_until": pa.array(ends, pa.timestamp("us")),
        "pin_reason": pa.array([p.reason for p in pins], pa.string()),
    })


def load_pins(model: Ruleset, file: Path, lines: LineMap) -> ir.Table | None:
    """The pins as an Ibis table (customer_id, pin_rank, pin_until exclusive, pin_reason)."""
    import ibis

    path = overrides_path(model, file, lines)
    if path is None:
        return None
    pins, problems = read_pins(path, model.tier_ids())
    if problems:
        raise RulesetError(problems)
    return ibis.memtable(pins_table(pins, model.tier_ids()))


def pin_in_force(pin_rank: ir.IntegerValue, pin_until: ir.TimestampValue,
                 at: dt.datetime) -> ir.BooleanValue:
    import ibis

    return pin_rank.notnull() & (pin_until.isnull() | (pin_until > ibis.literal(at)))
