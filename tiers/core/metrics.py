"""Metric specs: what a policy asks the engine to compute per customer.

Definitions pinned here for every backend:
- windows are half-open ``[start, end)``; nothing at or after as-of is ever counted;
- ``spend`` is the net sum of amounts, so refunds (negative amounts) reduce it;
- ``orders`` counts rows with a non-negative amount (a refund is not an order);
- ``recency_days`` is whole days elapsed since the last order (floor), NULL with no order;
- ``tenure_days`` is whole days since the first order or the signup date, whichever is earlier.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiers.core.windows import Window

# measure -> (depends on a window, value when the customer has no rows, description)
ORDER_MEASURES: dict[str, tuple[bool, float | None, str]] = {
    "spend": (True, 0, "net sum of order amounts in the window (refunds subtract)"),
    "orders": (True, 0, "number of orders (non-negative amounts) in the window"),
    "avg_order_value": (True, None, "spend / orders in the window"),
    "max_order_value": (True, None, "largest single order amount in the window"),
    "recency_days": (False, None, "whole days since the last order before as-of"),
    "tenure_days": (False, None, "whole days since the first order or signup"),
    "lifetime_spend": (False, 0, "net spend over all orders before as-of"),
    "lifetime_orders": (False, 0, "orders before as-of"),
}


@dataclass(frozen=True)
class MetricSpec:
    """One metric column: a measure over a window, from the orders or a declared event table."""

    column: str
    measure: str
    window: Window | None
    table: str = "orders"
    agg: str | None = None
    source_column: str | None = None
    time_column: str = "order_ts"
    default: float | None = None


class UnknownMetric(KeyError):
    pass

