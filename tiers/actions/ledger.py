"""The ledger rows of a plan: every intent recorded as ``pending`` in the run's state
transaction, before any effect, so a crash at any later point leaves it to be resumed."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from tiers.actions.plan import ActionPlan


def ledger_rows(plans: list[ActionPlan], ruleset: str, run_id: int, now: dt.datetime
                ) -> pa.Table:
    import pyarrow as pa

    intents = [i for p in plans for i in p.intents]
    n = len(intents)
    ts = pa.timestamp("us")
    return pa.table({
        "key": pa.array([i.key for i in intents], pa.string()),
        "ruleset": pa.repeat(pa.scalar(ruleset), n),
        "action": pa.array([i.action for i in intents], pa.string()),
        "action_type": pa.array([i.action_type for i in intents], pa.string()),
        "customer_id": pa.array([i.customer_id for i in intents], pa.string()),
        "event": pa.array([i.event for i in intents], pa.string()),
        "detail": pa.array([i.detail for i in intents], pa.string()),
        "period": pa.array([i.period for i in intents], pa.string()),
        "status": pa.repeat(pa.scalar("pending"), n),
        "attempts": pa.repeat(pa.scalar(0, pa.int32()), n),
        "payload": pa.array([json.dumps(i.payload, ensure_ascii=False, default=str)
                             for i in intents], pa.string()),
        "planned_run": pa.repeat(pa.scalar(run_id, pa.int32()), n),
        "created_at": pa.repeat(pa.scalar(now, ts), n),
        "updated_at": pa.repeat(pa.scalar(now, ts), n),
    })
