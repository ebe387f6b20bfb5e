"""The contract between the engine and wherever the previous run's state is kept.

The engine needs, per ruleset, the tier every customer held after the last run to apply
retention rules and to compute events (entered, upgraded, downgraded, retained, segment
changes). A backend returns that as an Ibis table on the run's connection and records a new
run's result. The SQLAlchemy store implements this; tests may pass a table directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import ibis.expr.types as ir

# Columns of the previous-state table, with their Ibis types.
PREVIOUS_STATE_SCHEMA: dict[str, str] = {
    "customer_id": "string",
    "tier": "string",            # tier id held after the previous run
    "tier_rank": "int8",         # its index in the ladder, lowest = 0
    "since": "timestamp",        # when the customer entered that tier
    "held_until": "timestamp",   # retention: not lowered before this instant (NULL = no hold)
    "segments": "array<string>",  # segment labels held after the previous run
}


class StateBackend(Protocol):
    def previous(self, ruleset_name: str, con: Any) -> ir.Table | None:
        """The state after the last completed run of ``ruleset_name``, or None before the first
        run; a table with :data:`PREVIOUS_STATE_SCHEMA` registered on ``con``."""
        ...

    def record(self, result: Any) -> None:
        """Store a completed run's result; must commit atomically."""
        ...
