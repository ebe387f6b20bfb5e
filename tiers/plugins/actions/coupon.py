"""`coupon`: issue a unique, unguessable coupon code per intent.

The code is an HMAC-SHA256 of the intent's idempotency key with a secret, so a re-run derives
the same code and nobody can derive one without the secret. The secret comes from the
environment variable named by ``secret_env``; if it is not set, a random secret generated once
and kept in the state store is used (the store holds the codes themselves, so this exposes
nothing new). Codes go to the store and, per run, to a CSV file for the shop platform.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from tiers.core.action import (
    Action,
    ActionConfig,
    ApplyContext,
    Intent,
    Outcome,
    PlanInput,
    period_label,
)
from tiers.core.errors import Problem
from tiers.core.files import write_table
from tiers.core.hookspecs import hookimpl
from tiers.core.numbers import Positive
from tiers.core.record import EVENTS
from tiers.core.words import counted

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa


Days = Annotated[int, Field(gt=0)]


class CouponConfig(ActionConfig):
    # a coupon worth nothing, less than nothing, NaN or infinity is a typo, never an offer
    value: Positive | dict[str, Positive] = Field(
        description="coupon value, or per tier id / event name with an optional `default`")
    kind: Literal["amount", "percent"] = "amount"
    valid_days: Days | dict[str, Days] | None = Field(
        default=30, description="days the code is valid from the run's as-of (per tier or "
        "event allowed); omit for no expiry")
    prefix: str = Field(default="", max_length=20, description="text before the code")
    secret_env: str = Field(default="TIERS_COUPON_SECRET",
                            description="env var holding the HMAC secret")
    budget: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                 description="most total value issued per run")
    max_coupons: int | None = Field(default=None, gt=0, description="most codes per run")
    export: str | None = Field(
        default=".tiers/exports/{action}-{as_of}.csv",
        description="CSV of the codes issued by a run ({action}, {as_of}, {run} expand); "
                    "null for none")

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> CouponConfig:
        values = self.value.values() if isinstance(self.value, dict) else [self.value]
        if self.kind == "percent" and any(v > 100 for v in values):
            raise ValueError("a percent coupon takes off at most 100 %: give `value` from "
                             "0 to 100, or `kind: amount` for a fixed sum")
        return self


@functools.cache
def coupons_table() -> Any:
    # The codes issued, kept in the state store beside the ledger (created with the store).
    import sqlalchemy as sa

    return sa.Table(
        "coupons", sa.MetaData(),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("ruleset", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("value", sa.Numeric(18, 4), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("valid_from", sa.DateTime, nullable=False),
        sa.Column("valid_until", sa.DateTime),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
        sa.Index("ix_coupons_customer", "ruleset", "customer_id"),
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def coupon_code(secret: str, key: str, prefix: str = "") -> str:
    """16 characters of base32 (80 bits) in groups of four, e.g. ``VIP-ABCD-EFGH-JKLM-NPQR``."""
    digest = hmac.new(secret.encode(), key.encode(), hashlib.sha256).digest()
    text = base64.b32encode(digest).decode()[:16]
    return prefix + "-".join(text[i:i + 4] for i in range(0, 16, 4))


class CouponAction(Action):
    name = "coupon"
    description = "unique HMAC coupon codes per tier or event, with an optional budget cap"
    Config: ClassVar[type[CouponConfig]] = CouponConfig
    external = False

    def tables(self) -> list[Any]:
        return [coupons_table()]

    batch_size = 500

    def check(self) -> list[Problem]:
        problems = super().check()
        allowed = {*self.context.ruleset.tier_ids(), *EVENTS, "default"}
        for field in ("value", "valid_days"):
            mapping = getattr(self.config, field)
            if isinstance(mapping, dict):
                for k in mapping:
                    if k not in allowed:
                        problems.append(self.context.problem(
                            f"{field} key {k!r} is neither a tier id nor an event", field, k,
                            hint=f"use tier ids, event names or `default`: "
                                 f"{', '.join(sorted(allowed))}"))
        return problems

    def _pick(self, value: Any, intent: Intent) -> Any:
        if not isinstance(value, dict):
            return value
        tier = intent.payload.get("customer", {}).get("tier")
        for k in (tier, intent.event, "default"):
            if k in value:
                return value[k]
        return None

    def prepare(self, intents: list[Intent], inp: PlanInput) -> list[Intent]:
        for intent in intents:
            value = self._pick(self.config.value, intent)
            days = self._pick(self.config.valid_days, intent)
            valid_until = (inp.as_of + dt.timedelta(days=days)) if days else None
            intent.payload = {"value": value, "kind": self.config.kind,
                              "valid_from": inp.as_of.isoformat(),
                              "valid_until": valid_until.isoformat() if valid_until else None,
                              "tier": intent.payload.get("customer", {}).get("tier")}
        return intents

    def cost_value(self, selected: ir.Table) -> ir.Value:
        import ibis

        value = self.config.value
        if not isinstance(value, dict):
            return ibis.literal(float(value))
        tiers = set(self.context.ruleset.tier_ids())
        # the same precedence as _pick: the customer's tier, then the event, then `default`
        cases = [(selected.tier == k, float(v)) for k, v in value.items() if k in tiers]
        cases += [(selected.event == k, float(v)) for k, v in value.items()
                  if k not in tiers and k != "default"]
        default = value.get("default")
        otherwise = ibis.literal(float(default)) if default is not None else ibis.null("float64")
        return ibis.cases(*cases, else_=otherwise) if cases else otherwise

    def cost_figures(self, rows: pa.Table) -> dict[str, float]:
        import pyarrow.compute as pc

        valued = rows.filter(pc.is_valid(rows["value"]))
        figures: dict[str, float] = {}
        if rows.num_rows > valued.num_rows:
            figures["coupons without a value"] = rows.num_rows - valued.num_rows
        if self.config.max_coupons is not None and valued.num_rows > self.config.max_coupons:
            figures["coupons over the cap"] = valued.num_rows - self.config.max_coupons
            # a run issues in plan order (customer, event) until the cap
            valued = valued.sort_by([("customer_id", "ascending"), ("event", "ascending")]
                                    ).slice(0, self.config.max_coupons)
        figures = {"coupons": valued.num_rows, **figures}
        if self.config.kind == "amount":
            total = float(pc.sum(valued["value"]).as_py() or 0.0)
            figures["value"] = total
            if self.config.budget is not None and total > self.config.budget:
                figures["value"] = self.config.budget
                figures["value over budget"] = total - self.config.budget
        return figures

    def describe(self, intent: Intent) -> str:
        p = intent.payload
        unit = "%" if p.get("kind") == "percent" else ""
        until = (p.get("valid_until") or "no expiry")[:10]
        return f"{intent.customer_id}: {p.get('value'):g}{unit} until {until}"

    def start(self, ctx: ApplyContext) -> None:
        self._secret, self._from_env = ctx.secret(self.config.secret_env,
                                                  f"coupon:{ctx.ruleset}")
        self._spent = 0.0
        self._count = 0
        self._over = 0
        self._over_value = 0.0

    def apply(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        assert ctx.conn is not None
        for intent in intents:
            p = intent.payload
            value = p.get("value")
            if value is None:
                yield Outcome(intent.key, "failed", error=f"no value for tier {p.get('tier')!r}"
                              f" or event {intent.event!r}; add it or a `default` to `value:`")
                continue
            over_budget = self.config.budget is not None and (
                self._spent + float(value) > self.config.budget)
            over_count = self.config.max_coupons is not None and (
                self._count >= self.config.max_coupons)
            if over_budget or over_count:
                self._over += 1
                self._over_value += float(value)
                yield Outcome(intent.key, "deferred",
                              error="not issued: this run's budget cap was reached")
                continue
            code = coupon_code(self._secret, intent.key, self.config.prefix)
            ctx.conn.execute(coupons_table().insert().values(
                code=code, key=intent.key, ruleset=ctx.ruleset, action=self.id,
                customer_id=intent.customer_id, value=Decimal(str(value)),
                kind=self.config.kind, valid_from=dt.datetime.fromisoformat(p["valid_from"]),
                valid_until=(dt.datetime.fromisoformat(p["valid_until"])
                             if p.get("valid_until") else None),
                run_id=ctx.run_id, issued_at=utcnow()))
            self._spent += float(value)
            self._count += 1
            yield Outcome(intent.key, "done", {"code": code, "value": value,
                                               "valid_until": p.get("valid_until")})

    def finish(self, ctx: ApplyContext) -> list[str]:
        notes = []
        if not self._from_env:
            notes.append(f"codes derived from the store's own secret; set "
                         f"{self.config.secret_env} to use yours")
        if self._over:
            cap = (f"budget {self.config.budget:,.2f}" if self.config.budget is not None
                   else f"max_coupons {self.config.max_coupons}")
            notes.append(f"{counted(self._over, 'coupon')} worth {self._over_value:,.2f} "
                         "not issued "
                         f"({cap} reached); they stay pending and a later run issues them")
        if self.config.export:
            path, total = self.export(ctx)
            if total:
                period = period_label(ctx.as_of, self.config.period)
                notes.append(f"{counted(total, 'code')} of period {period} written to {path} "
                             f"({self._count} issued by this run)")
        return notes

    def export(self, ctx: ApplyContext) -> tuple[Any, int]:
        """Write every code this action issued in the run's period, from the ledger, so the
        file is whole after any number of runs and after a resumed one; returns (path, codes)."""
        period = period_label(ctx.as_of, self.config.period)
        rows = ctx.ledger(action=self.id, period=period, status="done")
        return self.write_export(rows, ctx.as_of, ctx.run_id)

    def output_path(self, as_of: dt.datetime, run_id: int = 0) -> Any:
        """The export file of the period of ``as_of`` (None when exports are off)."""
        if not self.config.export:
            return None
        return self.context.resolve(self.config.export.format(
            action=self.id, as_of=as_of.date().isoformat(), run=run_id))

    def write_export(self, ledger_rows: list[dict[str, Any]], as_of: dt.datetime,
                     run_id: int) -> tuple[Any, int]:
        """Write the codes of ``ledger_rows`` (this action's done intents of one period) to
        the export file, atomically; returns (path, codes). ``tiers export`` calls this too,
        so the file can be rebuilt from the store at any time."""
        import pyarrow as pa

        rows = [r for r in ledger_rows if r["result"] and r["result"].get("code")]
        rows.sort(key=lambda r: (r["customer_id"], r["key"]))
        payloads = [r["payload"] or {} for r in rows]

        def instant(text: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(text) if text else None

        table = pa.table({
            "code": pa.array([r["result"]["code"] for r in rows], pa.string()),
            "customer_id": pa.array([r["customer_id"] for r in rows], pa.string()),
            "value": pa.array([float(r["result"]["value"]) for r in rows], pa.float64()),
            "kind": pa.array([p.get("kind", self.config.kind) for p in payloads], pa.string()),
            "valid_from": pa.array([instant(p.get("valid_from")) for p in payloads],
                                   pa.timestamp("us")),
            "valid_until": pa.array([instant(r["result"].get("valid_until")) for r in rows],
                                    pa.timestamp("us")),
        })
        path = self.output_path(as_of, run_id)
        write_table(table, path)
        return path, table.num_rows


@hookimpl
def register_actions(register: Any) -> None:
    register(CouponAction)
