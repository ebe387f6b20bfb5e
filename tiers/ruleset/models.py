"""The ruleset structure (stage one of validation). Component options are checked in stage two
by each plugin's own ``Config`` model; see :mod:`tiers.ruleset.loader`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tiers.core.windows import DEFAULT_WINDOW, Window
from tiers.ruleset import limits

HoldName = Literal["none", "rest_of_year", "rest_of_year_and_next"]


class HoldPeriod(BaseModel):
    """A hold of a fixed length from the evaluation that earned the tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int | None = Field(default=None, gt=0)
    months: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_unit(self) -> HoldPeriod:
        if (self.days is None) == (self.months is None):
            raise ValueError("a hold period needs exactly one of `days` or `months`, "
                             "e.g. {months: 12}")
        return self


Hold = HoldName | HoldPeriod


class Retention(BaseModel):
    """The ruleset's ``retention:`` section."""

    model_config = ConfigDict(extra="forbid")

    hold: Hold = Field(default="none", description="how long an earned tier is kept")
    max_drop: int | None = Field(
        default=None, ge=1,
        description="at most this many levels down per evaluation (soft landing); "
                    "unset = straight down to the tier earned")
    grace_days: int = Field(default=0, ge=0,
                            description="extra days after a hold ends before a tier is lost")
    landing_hold: Hold = Field(default="none",
                               description="hold for a tier reached by a soft landing")


class AtRisk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    within_days: int = Field(default=30, ge=0, description="how far ahead to look")
    margin: float = Field(default=0.0, ge=0, lt=1,
                          description="also at risk when metrics this fraction lower would "
                                      "lose the tier, e.g. 0.1 = within 10%")


class Birthday(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=1, ge=1, le=365,
                      description="birthdays from the as-of day over this many days")


class EventsConfig(BaseModel):
    """The ruleset's ``events:`` section."""

    model_config = ConfigDict(extra="forbid")

    at_risk: AtRisk = Field(default_factory=AtRisk)
    birthday: Birthday = Field(default_factory=Birthday)


IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
HitPolicy = Literal["highest", "lowest", "all", "first"]
Aggregate = Literal["sum", "count", "avg", "min", "max", "count_distinct"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class TierDef(Strict):
    """One rung of the ladder; tiers are listed from lowest to highest."""

    id: str = Field(pattern=IDENTIFIER)
    name: str | None = None
    description: str = ""
    qualify: str | None = Field(
        default=None, description="condition to enter this tier, e.g. "
                                  "`spend >= 5000 or segments >= 30`")
    maintain: str | None = Field(
        default=None, description="condition to keep this tier once held (maintenance)")

    @property
    def label(self) -> str:
        return self.name or self.id


class ComponentSpec(BaseModel):
    """A ``type:`` plus options; the options are validated later by the plugin's Config."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    type: str = Field(min_length=1)
    id: str | None = Field(default=None, pattern=IDENTIFIER)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MetricDef(Strict):
    """A per-customer aggregate over an event table, e.g. flights flown this calendar year."""

    id: str = Field(pattern=IDENTIFIER)
    table: str = Field(pattern=IDENTIFIER)
    agg: Aggregate
    column: str | None = None
    time_column: str = "ts"
    window: Window | None = None
    default: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _column_needed(self) -> MetricDef:
        if self.agg != "count" and self.column is None:
            raise ValueError(f"agg `{self.agg}` needs `column`: the field to aggregate")
        return self


NAME_CHARS = re.compile(r"^[\w.-]+$")


def check_name(value: str) -> str:
    """The ruleset's name names files (rejects, exports), so it must be one plain file name:
    letters of any script, digits, `_`, `-` and `.`, never `..` nor a separator."""
    if len(value) > limits.MAX_NAME_CHARS:
        raise ValueError(f"a ruleset name has at most {limits.MAX_NAME_CHARS} characters")
    if not NAME_CHARS.fullmatch(value) or ".." in value or value.startswith("."):
        raise ValueError("a ruleset name is letters, digits, `_`, `-` and `.` (not `..`, "
                         "no leading `.`, no `/` or spaces), e.g. `retail-2026`")
    return value


class Ruleset(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    currency: str | None = None
    engine: str = "duckdb"
    as_of: dt.date | None = Field(
        default=None, description="fixed evaluation date for snapshots; default is today")
    window: Window = DEFAULT_WINDOW
    sources: dict[str, ComponentSpec]
    metrics: list[MetricDef] = Field(default_factory=list)
    tiers: list[TierDef] = Field(min_length=1)
    policies: list[ComponentSpec] = Field(default_factory=list)
    combine: HitPolicy = "highest"
    retention: Retention = Field(default_factory=Retention)
    overrides: str | None = Field(
        default=None, description="CSV of pinned tiers: customer_id,tier,until,reason")
    events: EventsConfig = Field(default_factory=EventsConfig)
    actions: list[ComponentSpec] = Field(default_factory=list)
    state: str | None = None

    @model_validator(mode="after")
    def _something_grants_tiers(self) -> Ruleset:
        if not self.policies and not any(t.qualify for t in self.tiers):
            raise ValueError("nothing assigns tiers: add `policies:` or a `qualify:` "
                             "condition to a tier")
        return self

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("sources")
    @classmethod
    def _orders_required(cls, value: dict[str, ComponentSpec]) -> dict[str, ComponentSpec]:
        if "orders" not in value:
            raise ValueError("an `orders` source is required (the table of orders to score)")
        return value

    def tier_ids(self) -> list[str]:
        return [t.id for t in self.tiers]
