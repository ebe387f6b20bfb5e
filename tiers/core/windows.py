"""Evaluation windows. Every window is half-open: [start, end), with end <= as_of."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

WindowKind = Literal["rolling", "calendar_year", "quarter", "month", "all_time", "since_signup"]


class Window(BaseModel):
    """An evaluation window relative to the as-of instant.

    ``rolling`` covers the ``days`` before as-of. ``calendar_year``, ``quarter`` and ``month``
    cover the period holding the last evaluated day, from its start up to as-of; ``offset: -1``
    selects the whole period before that one. ``all_time`` covers everything before as-of.
    ``since_signup`` starts at each customer's own ``signup_date`` (a per-customer start, see
    :attr:`per_customer`); a customer without a signup date is counted from the beginning.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: WindowKind = "rolling"
    days: int | None = Field(default=None, gt=0)
    offset: int = Field(default=0, le=0)

    @model_validator(mode="after")
    def _days_only_for_rolling(self) -> Window:
        if self.kind == "rolling" and self.days is None:
            raise ValueError("a rolling window needs `days`, e.g. {kind: rolling, days: 365}")
        if self.kind != "rolling" and self.days is not None:
            raise ValueError(f"`days` only applies to rolling windows, not {self.kind}")
        if self.kind in ("rolling", "all_time", "since_signup") and self.offset:
            raise ValueError(f"`offset` only applies to calendar periods, not {self.kind}")
        return self

    @property
    def key(self) -> str:
        """A short stable name used to suffix metric columns."""
        if self.kind == "rolling":
            return f"{self.days}d"
        base = {"calendar_year": "year", "quarter": "quarter", "month": "month",
                "since_signup": "signup"}.get(
            self.kind, self.kind
        )
        return f"{base}{self.offset}" if self.offset else base

    @property
    def per_customer(self) -> bool:
        """True when the start differs per customer (the engine supplies it)."""
        return self.kind == "since_signup"

    def bounds(self, as_of: dt.datetime) -> tuple[dt.datetime | None, dt.datetime]:
        """Return ``(start, end)`` for this window; ``start`` is None when unbounded or when
        it is per customer."""
        if self.kind in ("all_time", "since_signup"):
            return None, as_of
        if self.kind == "rolling":
            assert self.days is not None
            return as_of - dt.timedelta(days=self.days), as_of
        last_day = (as_of - dt.timedelta(microseconds=1)).date()
        start = _period_start(self.kind, last_day)
        for _ in range(-self.offset):
            start = _period_start(self.kind, start - dt.timedelta(days=1))
        if self.offset == 0:
            return _midnight(start), as_of
        end = _period_end(self.kind, start)
        return _midnight(start), _midnight(end)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _period_start(kind: str, day: dt.date) -> dt.date:
    if kind == "calendar_year":
        return dt.date(day.year, 1, 1)
    if kind == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, day.month, 1)


def _period_end(kind: str, start: dt.date) -> dt.date:
    months = {"calendar_year": 12, "quarter": 3, "month": 1}[kind]
    month = start.month - 1 + months
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


DEFAULT_WINDOW = Window(kind="rolling", days=365)
