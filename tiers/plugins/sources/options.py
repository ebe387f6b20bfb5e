"""Options every built-in source shares: column mapping, parsing rules and the bad-row policy."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator

from tiers.core.interfaces import ComponentConfig

# Fields each well-known table must end up with, after the column mapping.
REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": ("customer_id", "order_ts", "amount"),
    "customers": ("customer_id",),
}
TIMESTAMP_FIELDS = ("order_ts", "ts")
DATE_FIELDS = ("signup_date", "birthday")
AMOUNT_FIELDS = ("amount",)
ID_FIELDS = ("customer_id", "order_id")
# The field that identifies a row of each keyed table: a second row with the same value is a
# duplicate, handled by that table's duplicate policy.
KEY_FIELDS: dict[str, str] = {"orders": "order_id", "customers": "customer_id"}
# No shop holds a date outside this range: earlier or later values are typos or placeholders
# (0001-01-01, 9999-12-31) and are rejected, whatever `allow_future` says. Half-open.
EARLIEST = dt.datetime(1900, 1, 1)
LATEST = dt.datetime(2200, 1, 1)


class TableOptions(ComponentConfig):
    """How raw values become tiers fields, and what happens to rows that cannot."""

    columns: dict[str, str] = Field(
        default_factory=dict,
        description="tiers field -> column in the data, e.g. amount: 成交金额")
    amount_scale: int = Field(default=2, ge=0, le=9, description="decimal places of amounts")
    thousands: str = Field(default=",", max_length=1,
                           description="thousands separator in text amounts ('' for none)")
    decimal: str = Field(default=".", min_length=1, max_length=1,
                         description="decimal mark in text amounts")
    max_amount: float = Field(default=1e9, gt=0,
                              description="amounts above this (absolute) are rejected as absurd")
    negative_amounts: Literal["refund", "reject"] = Field(
        default="refund", description="refund: negative amounts are refunds; reject: bad rows")
    date_order: Literal["ymd", "dmy", "mdy"] = Field(
        default="ymd", description="field order of dates written with separators")
    timezone: str | None = Field(
        default=None,
        description="IANA zone the loaded timestamps are expressed in (naive local time); "
                    "values with an explicit offset are converted to it")
    file_timezone: str | None = Field(
        default=None,
        description="zone of timestamps written without an offset; default: `timezone`")
    allow_future: bool = Field(
        default=False, description="keep rows dated after the run's as-of instead of rejecting")
    max_reject_share: float = Field(
        default=0.01, ge=0, le=1,
        description="stop the run when more than this share of rows is rejected")
    rejects: str | None = Field(
        default=None,
        description="rejects file (CSV); default: rejects/<ruleset>.<table>.csv beside the "
                    "ruleset")
    duplicate_rows: Literal["keep_first", "reject", "allow"] = Field(
        default="keep_first", description="rows identical in every column")
    duplicate_order_ids: Literal["keep_first", "sum", "reject", "allow"] = Field(
        default="reject",
        description="several rows with one order_id: keep the first, sum their amounts, "
                    "or reject them all")
    duplicate_customer_ids: Literal["keep_first", "reject"] = Field(
        default="reject",
        description="customers table: several rows with one customer_id: keep the first, or "
                    "reject them all")
    allow_empty: bool = Field(default=False, description="accept a table with no rows")

    @field_validator("timezone", "file_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai or UTC"
            ) from None
        return value
