"""The as-of instant of a run: parsed from text with a message that says what is wrong, and
kept inside a plausible range so no window or horizon falls off the calendar (a window of a
year before 0001-01-01, a greeting horizon after 9999-12-31)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from tiers.core import exits
from tiers.core.errors import TiersError

#: the as-of dates tiers accepts (docs/reliability.md): far enough from the calendar's ends
#: that windows and horizons of any plausible length stay on it
EARLIEST = dt.datetime(1900, 1, 1)
LATEST = dt.datetime(2999, 12, 31, 23, 59, 59)

_DAY = re.compile(r"^\s*(\d{4,})-(\d{1,2})-(\d{1,2})")


class AsOfError(TiersError):
    """An as-of that is not a date, or not one tiers can evaluate at."""

    exit_code = exits.USAGE  # a bad option value


def as_of_instant(as_of: dt.date | dt.datetime | str | None) -> dt.datetime:
    """The exclusive end of every window. A date means the start of that day, so a run
    ``--as-of 2026-06-30`` counts orders up to the end of 29 June; today by default."""
    if as_of is None:
        as_of = dt.date.today()
    if isinstance(as_of, str):
        as_of = _parse(as_of)
    if isinstance(as_of, dt.datetime):
        instant = as_of.replace(tzinfo=None)
    else:
        instant = dt.datetime(as_of.year, as_of.month, as_of.day)
    if not EARLIEST <= instant <= LATEST:
        raise AsOfError(f"--as-of {instant.date().isoformat()} is outside the dates tiers "
                        f"evaluates at ({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}): its "
                        "windows would leave the calendar\n"
                        "    fix: give a date in that range (YYYY-MM-DD)")
    return instant


def _parse(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    m = _DAY.match(text)
    why = "use YYYY-MM-DD"
    if m:
        year, month, day = (int(g) for g in m.groups())
        if len(m.group(1)) > 4 or year < 1:
            why = f"year {year} is not on the calendar; use a year from {EARLIEST.year} to " \
                  f"{LATEST.year}"
        elif not 1 <= month <= 12:
            why = f"there is no month {month}"
        elif not 1 <= day <= calendar.monthrange(year, month)[1]:
            why = (f"{calendar.month_name[month]} {year} has "
                   f"{calendar.monthrange(year, month)[1]} days")
    raise AsOfError(f"--as-of {text!r} is not a date: {why}\n    fix: give a real date as "
                    "YYYY-MM-DD") from None


def off_calendar(roots: Iterable[tuple[tuple[Any, ...], Any]], instant: dt.datetime
                 ) -> tuple[Any, ...] | None:
    """The YAML path of the first window or day count under ``roots`` (pairs of a path and a
    config) that would fall off the calendar at ``instant``, e.g. a rolling window of 900,000
    days; None when every one stays on it."""
    for loc, value in roots:
        found = _walk(loc, value, instant, 0)
        if found is not None:
            return found
    return None


def _walk(loc: tuple[Any, ...], value: Any, instant: dt.datetime, depth: int
          ) -> tuple[Any, ...] | None:
    from pydantic import BaseModel

    from tiers.core.windows import Window

    if depth > 50:
        return None
    if isinstance(value, Window):
        try:
            value.bounds(instant)
        except (OverflowError, ValueError):
            return loc
        return None
    if isinstance(value, BaseModel):
        items: Iterable[tuple[Any, Any]] = ((k, getattr(value, k, None))
                                            for k in type(value).model_fields)
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if (isinstance(key, str) and key.endswith("days") and isinstance(item, int)
                and not isinstance(item, bool)):
            try:
                instant + dt.timedelta(days=item)
                instant - dt.timedelta(days=item)
            except OverflowError:
                return (*loc, key)
            continue
        found = _walk((*loc, key), item, instant, depth + 1)
        if found is not None:
            return found
    return None
