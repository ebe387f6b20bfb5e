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
import hashlib
import hmac
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from tiers.core.actions import EVENTS, ActionConfig, Intent, Outcome, PlanInput, TierAction
from tiers.core.apply import ApplyContext
from tiers.core.errors import Problem
from tiers.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa


class CouponConfig(ActionConfig):
    value: float | dict[str, float] = Field(
        description="coupon value, or per tier id / event name with an optional `default`")
    kind: Literal["amount", "percent"] = "amount"
    valid_days: int | dict[str, int] | None = Field(
        default=30, description="days the code is valid from the run's as-of (per tier or "
        "event allowed); omit for no expiry")
    prefix: str = Field(default="", max_length=20, description="text before the code")
    secret_env: str = Field(default="TIERS_COUPON_SECRET",
                            description="env var holding the HMAC secret")
    budget: float | None = Field(default=None, gt=0,
                                 description="most total value issued per run")
    max_coupons: int | None = Field(default=None, gt=0, description="most codes per run")
    export: str | None = Field(
        default=".tiers/exports/{action}-{as_of}.csv",
        description="CSV of the codes issued by a run ({action}, {as_of}, {run} expand); "
                    "null for none")


def coupon_code(secret: str, key: str, prefix: str = "") -> str:
    """16 characters of base32 (80 bits) in groups of four, e.g. ``VIP-ABCD-EFGH-JKLM-NPQR``."""
    digest = hmac.new(secret.encode(), key.encode(), hashlib.sha256).digest()
    text = base64.b32encode(digest).decode()[:16]
    return prefix + "-".join(text[i:i + 4] for i in range(0, 16, 4))


class CouponAction(TierAction):
    name = "coupon"
    description = "unique HMAC coupon codes per tier or event, with an optional budget cap"
    Config: ClassVar[type[CouponConfig]] = CouponConfig
    external = False
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

    def execute(self, intents: list[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        from tiers.store.schema import coupons
        from tiers.store.store import utcnow

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
            ctx.conn.execute(coupons.insert().values(
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
            notes.append(f"{self._over} coupons worth {self._over_value:,.2f} not issued "
                         f"({cap} reached); they stay pending and a later run issues them")
        if self.config.export and self._count:
            path = self.export(ctx)
            notes.append(f"{self._count} codes written to {path}")
        return notes

    def export(self, ctx: ApplyContext) -> Any:
        import pyarrow as pa
        import sqlalchemy as sa

        from tiers.core.engine import write_table
        from tiers.store.schema import coupons

        assert self.config.export is not None
        cols = ("code", "customer_id", "value", "kind", "valid_from", "valid_until")
        with ctx.store.engine.connect() as conn:
            rows = conn.execute(sa.select(*(coupons.c[c] for c in cols)).where(
                coupons.c.run_id == ctx.run_id, coupons.c.action == self.id).order_by(
                coupons.c.customer_id)).all()
        data = list(zip(*rows, strict=True)) if rows else [[] for _ in cols]
        table = pa.table({
            "code": pa.array(data[0], pa.string()),
            "customer_id": pa.array(data[1], pa.string()),
            "value": pa.array([float(v) for v in data[2]], pa.float64()),
            "kind": pa.array(data[3], pa.string()),
            "valid_from": pa.array(data[4], pa.timestamp("us")),
            "valid_until": pa.array(data[5], pa.timestamp("us")),
        })
        path = self.context.resolve(self.config.export.format(
            action=self.id, as_of=ctx.as_of.date().isoformat(), run=ctx.run_id))
        write_table(table, path)
        return path


@hookimpl
def register_actions(register: Any) -> None:
    register(CouponAction)
