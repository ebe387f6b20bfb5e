"""Per-customer metrics, computed columnar in one aggregate pass per table.

Definitions pinned here for every backend:
- windows are half-open ``[start, end)``; nothing at or after as-of is ever counted;
- ``spend`` is the net sum of amounts, so refunds (negative amounts) reduce it;
- ``orders`` counts rows with a non-negative amount (a refund is not an order);
- ``recency_days`` is whole days elapsed since the last order (floor), NULL with no order;
- ``tenure_days`` is whole days since the first order or the signup date, whichever is earlier.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.core.metrics import MetricSpec
    from tiers.core.windows import Window


def in_window(ts: ir.TimestampValue, window: Window, as_of: dt.datetime,
              row_start: ir.TimestampValue | None = None) -> ir.BooleanValue:
    """``ts`` within ``window``; ``row_start`` is the per-customer start of windows such as
    ``since_signup`` (NULL start = from the beginning)."""
    start, end = window.bounds(as_of)
    cond = ts < end
    if window.per_customer and row_start is not None:
        return cond & (row_start.isnull() | (ts >= row_start))
    return cond if start is None else cond & (ts >= start)


SIGNUP_TS = "_signup_ts"


def _with_signup(t: ir.Table, customers: ir.Table | None, specs: list[MetricSpec]) -> ir.Table:
    """Add the customer's signup instant to each event row when a window starts there."""
    if customers is None or "signup_date" not in customers.columns:
        return t
    if not any(s.window is not None and s.window.per_customer for s in specs):
        return t
    signups = customers.select(
        customer_id=customers.customer_id,
        **{SIGNUP_TS: customers.signup_date.cast("timestamp")}).distinct()
    return attach(t, signups)


def _row_start(t: ir.Table) -> ir.TimestampValue | None:
    return t[SIGNUP_TS] if SIGNUP_TS in t.columns else None


def whole_days_between(earlier: ir.TimestampValue, as_of: dt.datetime) -> ir.IntegerValue:
    """floor((as_of - earlier) / 1 day), identical on DuckDB and Spark.

    ``delta(unit="day")`` counts calendar boundaries on DuckDB but elapsed days on Spark, and
    epoch seconds are fractional on DuckDB, so we compare whole seconds, rounding ``earlier`` up.
    """
    import ibis

    secs = earlier.truncate("s")
    ceil_secs = secs.epoch_seconds().cast("int64") + (earlier > secs).cast("int64")
    as_of_secs = ibis.literal(as_of).epoch_seconds().cast("int64")
    return ((as_of_secs - ceil_secs) // 86400).cast("int64")


def _order_aggregates(orders: ir.Table, specs: list[MetricSpec], as_of: dt.datetime) -> dict:
    purchase = orders.amount >= 0
    aggs: dict[str, ir.Value] = {
        "first_order_ts": orders.order_ts.min(),
        "last_order_ts": orders.order_ts.max(where=purchase),
    }
    declared = [s for s in specs if s.table == "orders" and s.agg is not None
                and s.window is not None]
    # a metric declared under `metrics:` on the orders table: an ordinary aggregate of its rows
    aggs.update(_event_aggregates(orders, declared, as_of))
    for spec in specs:
        if spec.table != "orders" or spec.window is None or spec.agg is not None:
            continue
        inw = in_window(orders.order_ts, spec.window, as_of, _row_start(orders))
        count = orders.count(where=inw & purchase)
        if spec.measure == "spend":
            aggs[spec.column] = orders.amount.sum(where=inw)
        elif spec.measure == "orders":
            aggs[spec.column] = count
        elif spec.measure == "avg_order_value":
            # in float64 on every backend: Spark divides decimals in decimal(38, 12) arithmetic
            aggs[spec.column] = orders.amount.sum(where=inw).cast("float64") / count.nullif(0)
        elif spec.measure == "max_order_value":
            aggs[spec.column] = orders.amount.max(where=inw)
    aggs["lifetime_spend"] = orders.amount.sum()
    aggs["lifetime_orders"] = orders.count(where=purchase)
    return aggs


def _event_aggregates(t: ir.Table, specs: list[MetricSpec], as_of: dt.datetime) -> dict:
    aggs: dict[str, ir.Value] = {}
    for spec in specs:
        assert spec.window is not None
        inw = in_window(t[spec.time_column], spec.window, as_of, _row_start(t))
        col = t[spec.source_column] if spec.source_column else None
        if spec.agg == "count":
            aggs[spec.column] = t.count(where=inw)
        elif spec.agg == "count_distinct":
            aggs[spec.column] = col.nunique(where=inw)
        elif spec.agg == "avg":
            aggs[spec.column] = col.mean(where=inw)
        else:
            aggs[spec.column] = getattr(col, spec.agg)(where=inw)
    return aggs


def attach(left: ir.Table, right: ir.Table) -> ir.Table:
    """Left join on customer_id, keeping one key column."""
    joined = left.left_join(right, "customer_id")
    return joined.drop("customer_id_right") if "customer_id_right" in joined.columns else joined


def customer_metrics(
    tables: dict[str, ir.Table], specs: list[MetricSpec], as_of: dt.datetime
) -> ir.Table:
    """One row per customer known before as-of, with a column per requested metric."""
    orders = tables["orders"]
    orders = orders.filter(orders.order_ts < as_of)
    customers = tables.get("customers")
    if customers is not None and "signup_date" in customers.columns:
        customers = customers.filter(
            customers.signup_date.isnull() | (customers.signup_date.cast("timestamp") < as_of)
        )

    orders = _with_signup(orders, customers, specs)
    per_orders = orders.group_by("customer_id").aggregate(**_order_aggregates(orders, specs, as_of))
    if customers is None:
        result = per_orders
    else:
        # everyone with an order or a customer row: one outer join of the two, so the orders
        # are read once (the DISTINCT ids of the orders cost a second hash over every order)
        joined = customers.outer_join(per_orders, "customer_id")
        result = joined.mutate(customer_id=joined.customer_id.fill_null(
            joined.customer_id_right)).drop("customer_id_right")

    by_table: dict[str, list[MetricSpec]] = {}
    for spec in specs:
        if spec.table != "orders":
            by_table.setdefault(spec.table, []).append(spec)
    for name, table_specs in sorted(by_table.items()):
        t = tables[name]
        time_col = table_specs[0].time_column
        t = _with_signup(t.filter(t[time_col] < as_of), customers, table_specs)
        result = attach(result, t.group_by("customer_id").aggregate(
            **_event_aggregates(t, table_specs, as_of)))

    first = result.first_order_ts
    if customers is not None and "signup_date" in customers.columns:
        import ibis

        first = ibis.least(first, result.signup_date.cast("timestamp"))
    derived = {
        "recency_days": whole_days_between(result.last_order_ts, as_of),
        "tenure_days": whole_days_between(first, as_of),
    }
    result = result.mutate(**derived)
    fills = {s.column: result[s.column].fill_null(s.default)
             for s in specs if s.default is not None}
    fills["lifetime_spend"] = result.lifetime_spend.fill_null(0)
    fills["lifetime_orders"] = result.lifetime_orders.fill_null(0)
    return result.mutate(**fills)
