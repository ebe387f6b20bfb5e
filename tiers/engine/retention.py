"""Retention: how the tier a customer earns now meets the tier they held after the last run.

Rules, applied columnar to every customer at once:
- a customer seen for the first time gets the tier they earn (event ``entered``);
- an upgrade, or earning the same tier again, applies at once and starts a new hold;
- a lower tier applies only once the hold (plus any grace) is over, and then drops at most
  ``max_drop`` levels per evaluation (soft landing); a soft-landed tier may get its own hold.

All hold lengths are constants of the run (they depend on the as-of instant only), so they are
computed here in Python once and enter the query as literals.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING

from tiers.ruleset.models import Hold, HoldPeriod, Retention

if TYPE_CHECKING:
    import ibis.expr.types as ir


def _add_months(day: dt.datetime, months: int) -> dt.datetime:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def hold_end(hold: Hold, as_of: dt.datetime) -> dt.datetime | None:
    """The instant a hold earned at ``as_of`` ends (exclusive), or None for no hold.

    "This year" is the year of the last evaluated day (as-of is an exclusive end), so a run as
    of 2027-01-01 judges 2026 and ``rest_of_year_and_next`` then holds until 2028-01-01."""
    if hold == "none":
        return None
    if isinstance(hold, HoldPeriod):
        if hold.days is not None:
            return as_of + dt.timedelta(days=hold.days)
        assert hold.months is not None
        return _add_months(as_of, hold.months)
    year = (as_of - dt.timedelta(microseconds=1)).year
    return dt.datetime(year + (1 if hold == "rest_of_year" else 2), 1, 1)


def earned_hold_until(retention: Retention, as_of: dt.datetime) -> dt.datetime | None:
    """held_until for a tier earned at ``as_of``: the hold plus the grace days."""
    end = hold_end(retention.hold, as_of)
    if retention.grace_days:
        end = (end or as_of) + dt.timedelta(days=retention.grace_days)
    return end


def _ts(value: dt.datetime | None) -> ir.TimestampValue:
    import ibis

    return ibis.literal(value, type="timestamp") if value else ibis.null("timestamp")


def assign(qualified: ir.IntegerValue, prev_rank: ir.IntegerValue,
           prev_held: ir.TimestampValue, retention: Retention, as_of: dt.datetime,
           ) -> tuple[ir.IntegerValue, ir.TimestampValue]:
    """(rank, held_until) after retention, from the rank earned now and the previous state."""
    import ibis

    held = prev_held.notnull() & (prev_held > as_of)
    if retention.max_drop is None:
        landed = qualified
    else:
        landed = ibis.greatest(qualified, prev_rank - retention.max_drop)
    rank = ibis.cases(
        (prev_rank.isnull(), qualified),
        (qualified >= prev_rank, qualified),
        (held, prev_rank),
        else_=landed,
    ).cast("int8")
    earned = _ts(earned_hold_until(retention, as_of))
    landing = _ts(hold_end(retention.landing_hold, as_of))
    held_until = ibis.cases(
        (rank == 0, ibis.null("timestamp")),
        # earning the tier held before again extends its hold, never shortens it
        ((rank == qualified) & (rank == prev_rank), ibis.greatest(prev_held, earned)),
        (rank == qualified, earned),
        (rank == prev_rank, prev_held),
        else_=landing,
    )
    return rank, held_until.cast("timestamp")


def tier_event(rank: ir.IntegerValue, prev_rank: ir.IntegerValue) -> ir.StringValue:
    import ibis

    return ibis.cases(
        (prev_rank.isnull(), "entered"),
        (rank > prev_rank, "upgraded"),
        (rank < prev_rank, "downgraded"),
        else_="retained",
    )
