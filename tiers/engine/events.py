"""Events: what happened to each customer in this evaluation, as one long lazy table
(customer_id, event, detail) that actions read.

- ``entered`` / ``upgraded`` / ``downgraded`` / ``retained``: one per customer and run; detail
  is the tier id held after this run.
- ``at_risk``: the customer would hold a lower tier at an evaluation ``within_days`` from now if
  their metrics stayed as they are (or were ``margin`` lower, for the metrics that accumulate:
  spend, orders, declared sum/count metrics). It takes holds, grace days, maintenance
  conditions, soft landing and pins into account. Detail: the tier at risk.
- ``segment_entered`` / ``segment_left``: a label gained or lost since the previous run (on a
  first run every label held is "entered"). Detail: the label.
- ``birthday``: the customer's birthday falls in ``[as-of day, as-of day + days)``, where the
  as-of day is the day the run stands on (a run ``--as-of 2026-11-21`` with ``days: 1`` greets
  birthdays on 21 November). 29 February birthdays fall on 28 February in other years. Needs a
  ``birthday`` date column on the customers table. Detail: the date, ``YYYY-MM-DD``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING

from tiers.engine.segments import added

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.ruleset.models import EventsConfig

def birthday_in_range(birthday: ir.DateValue, as_of: dt.datetime,
                      days: int) -> ir.DateValue:
    """The anniversary date within [as-of day, + days), NULL when none."""
    import ibis

    start = as_of.date()
    end = start + dt.timedelta(days=days)
    month, day = birthday.month(), birthday.day()
    branches = []
    for year in sorted({start.year, (end - dt.timedelta(days=1)).year}):
        # 29 February is celebrated on the 28th in common years
        leap_day = (month == 2) & (day == 29)
        d = day if calendar.isleap(year) else ibis.ifelse(leap_day, 28, day)
        anniversary = ibis.date(year, month, d)
        branches.append(((anniversary >= start) & (anniversary < end), anniversary))
    return ibis.cases(*branches, else_=ibis.null("date"))


def _rows(t: ir.Table, event: str | ir.StringValue, detail: ir.Value) -> ir.Table:
    import ibis

    ev = ibis.literal(event) if isinstance(event, str) else event
    return t.select(customer_id=t.customer_id, event=ev.cast("string"),
                    detail=detail.cast("string"))


def _parts(table: ir.Table, config: EventsConfig, as_of: dt.datetime, labels: bool,
           before: bool) -> list[tuple[ir.Table, str | ir.StringValue, ir.Value,
                                       ir.BooleanValue | None]]:
    """Each kind of event as (rows, event, detail, condition): the events are the rows
    where the condition holds (every row when None)."""
    parts: list[tuple[ir.Table, str | ir.StringValue, ir.Value, ir.BooleanValue | None]] = [
        (table, table.tier_event, table.tier, None),
        (table, "at_risk", table.tier, table.at_risk)]
    for event, now, then, possible in (("segment_entered", "segments", "prev_segments", labels),
                                       ("segment_left", "prev_segments", "segments", before)):
        if not possible:
            continue
        # a NULL `now` (no previous state) yields no rows: nothing was left
        diff = table.select("customer_id", label=added(table[now], table[then]).unnest())
        parts.append((diff, event, diff.label, None))
    if "birthday" in table.columns and table.birthday.type().is_date():
        days = birthday_in_range(table.birthday, as_of, config.birthday.days)
        b = table.mutate(_bday=days)
        parts.append((b, "birthday", b._bday, b._bday.notnull()))
    return parts


def _union(parts: list[ir.Table]) -> ir.Table:
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out


def events_table(table: ir.Table, config: EventsConfig, as_of: dt.datetime, *,
                 labels: bool = True, before: bool = True) -> ir.Table:
    """The long events table from the evaluated per-customer table.

    ``labels``: some policy gives segment labels; ``before``: there is a previous state. Each
    False one drops a part that can have no rows (no label entered, none left), whose list
    functions would still cost a pass over every customer."""
    rows = []
    for t, event, detail, when in _parts(table, config, as_of, labels, before):
        if when is not None:
            t = t.filter(when)
            detail = t[detail.get_name()]
        rows.append(_rows(t, event, detail))
    return _union(rows)


def event_counts(table: ir.Table, config: EventsConfig, as_of: dt.datetime, *,
                 labels: bool = True, before: bool = True) -> ir.Table:
    """(event, n): the rows of :func:`events_table` per event, each condition summed rather
    than filtered on. Over a result DuckDB keeps as a view, a filter on a computed flag such
    as ``at_risk`` is pushed down into the expressions it is made of, copied at each level
    (900k customers: 0.21 s to count the customers at risk, 0.04 s to sum the flag)."""
    import ibis

    counts = []
    for t, event, _detail, when in _parts(table, config, as_of, labels, before):
        if isinstance(event, str):
            n = t.count() if when is None else when.cast("int64").sum().fill_null(0)
            counts.append(t.aggregate(n=n).select(event=ibis.literal(event), n="n"))
        else:
            counts.append(t.group_by(event=event.cast("string")).aggregate(n=t.count()))
    return _union(counts)
