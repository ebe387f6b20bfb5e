"""The per-customer record: the columns the engine adds to every result, and the shape of the
state a run hands to the next one."""

from __future__ import annotations

# Columns the engine adds to each customer's row; metrics and policy outputs must not use them.
RESULT_COLUMNS = (
    "tier", "tier_rank", "entry_rank", "maintain_rank", "qualified_rank", "assigned_rank",
    "prev_tier", "prev_rank", "prev_since", "prev_held_until", "prev_segments", "tier_event",
    "tier_since", "held_until", "segments", "pinned", "pin_rank", "pin_until", "pin_reason",
    "at_risk",
)

# Columns of the previous-state table, with their Ibis types.
PREVIOUS_STATE_SCHEMA: dict[str, str] = {
    "customer_id": "string",
    "tier": "string",            # tier id held after the previous run
    "tier_rank": "int8",         # its index in the ladder, lowest = 0
    "since": "timestamp",        # when the customer entered that tier
    "held_until": "timestamp",   # retention: not lowered before this instant (NULL = no hold)
    "segments": "array<string>",  # segment labels held after the previous run
}

# Events a run can produce for a customer (see tiers.engine.events).
EVENTS = ("entered", "upgraded", "downgraded", "retained", "at_risk", "segment_entered",
          "segment_left", "birthday")
