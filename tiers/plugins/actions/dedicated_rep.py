"""`dedicated_rep`: give each customer ``when:`` selects an account rep from a roster.

Assignments are sticky (a customer keeps their rep across runs), new ones go to the rep with
the lowest load relative to capacity (ties: roster order), nobody goes over capacity, and a
customer who no longer qualifies (e.g. downgraded below the tier) is released.

Roster: a CSV next to the ruleset with ``rep_id`` and ``capacity`` (any other columns, e.g.
``name`` and ``email``, are kept for templates and exports).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers.core.action import (
    Action,
    ActionConfig,
    ApplyContext,
    Intent,
    Outcome,
    PlanInput,
    idempotency_key,
    period_label,
)
from tiers.core.errors import Problem
from tiers.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import pyarrow as pa

ASSIGN, RELEASE = "rep_assign", "rep_release"

@functools.cache
def assignments_table() -> Any:
    # Who serves whom, kept in the state store beside the ledger (created with the store).
    import sqlalchemy as sa

    return sa.Table(
        "rep_assignments", sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ruleset", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("rep_id", sa.String(200), nullable=False),
        sa.Column("assigned_at", sa.DateTime, nullable=False),
        sa.Column("released_at", sa.DateTime),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Index("ix_reps_active", "ruleset", "action", "released_at"),
    )


class RepConfig(ActionConfig):
    roster: str = Field(description="CSV with rep_id and capacity columns")


def read_roster(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    return rows


class DedicatedRepAction(Action):
    name = "dedicated_rep"
    description = "assign account reps from a roster: sticky, balanced, released on downgrade"
    Config: ClassVar[type[RepConfig]] = RepConfig
    external = False

    def tables(self) -> list[Any]:
        return [assignments_table()]

    batch_size = 1000
    counts_once_per_period = False

    @property
    def roster_path(self) -> Path:
        return self.context.resolve(self.config.roster)

    def check(self) -> list[Problem]:
        problems = super().check()
        path = self.roster_path
        if not path.is_file():
            return [*problems, self.context.problem(
                f"roster file {path} does not exist", "roster",
                hint="create a CSV with columns rep_id,name,email,capacity")]
        rows = read_roster(path)
        if not rows or not {"rep_id", "capacity"} <= set(rows[0]):
            return [*problems, Problem(
                "roster needs a header with rep_id and capacity", file=str(path), line=1,
                hint="first line e.g.: rep_id,name,email,capacity")]
        seen: set[str] = set()
        for n, row in enumerate(rows, start=2):
            cap = (row.get("capacity") or "").strip()
            if not cap.isdigit():
                problems.append(Problem(f"capacity {cap!r} of rep {row.get('rep_id')!r} is "
                                        "not a whole number", file=str(path), line=n,
                                        hint="write how many customers this rep can serve"))
            if row["rep_id"] in seen:
                problems.append(Problem(f"rep_id {row['rep_id']!r} is listed twice",
                                        file=str(path), line=n, hint="keep one line per rep"))
            seen.add(row["rep_id"])
        return problems

    def _active(self, store: Any, conn: Any = None) -> dict[str, str]:
        """customer_id -> rep_id of the current assignments."""
        import sqlalchemy as sa

        ra = assignments_table()
        if store is None or not store.exists:
            return {}
        q = sa.select(ra.c.customer_id, ra.c.rep_id).where(
            ra.c.ruleset == self.context.ruleset.name, ra.c.action == self.id,
            ra.c.released_at.is_(None))
        if conn is not None:
            return dict(conn.execute(q).all())
        with store.engine.connect() as c:
            if not sa.inspect(c).has_table(ra.name):  # no run has assigned a rep yet
                return {}
            return dict(c.execute(q).all())

    def plan(self, inp: PlanInput) -> list[Intent]:
        import ibis
        import pyarrow as pa

        active = self._active(inp.store)
        assigned = ibis.memtable(pa.table({"customer_id": pa.array(list(active), pa.string())}))
        chosen = self.select(inp)
        new = chosen.anti_join(assigned, "customer_id").order_by("customer_id")
        keep = chosen.select("customer_id").distinct()
        gone = assigned.anti_join(keep, "customer_id").order_by("customer_id")
        period = period_label(inp.as_of, self.config.period)
        intents = []
        for row in inp.fetch(new).to_pylist():
            cid = str(row["customer_id"])
            intents.append(Intent(idempotency_key(inp.ruleset, self.id, cid, ASSIGN, period),
                                  self.id, self.name, cid, ASSIGN, row.get("tier"), period,
                                  {"tier": row.get("tier")}))
        for cid in inp.fetch(gone)["customer_id"].to_pylist():
            intents.append(Intent(idempotency_key(inp.ruleset, self.id, cid, RELEASE, period),
                                  self.id, self.name, cid, RELEASE, active[cid], period,
                                  {"rep_id": active[cid]}))
        return intents

    def cost_figures(self, rows: pa.Table) -> dict[str, float]:
        """Customers who would hold a rep, against what the roster can serve."""
        import pyarrow.compute as pc

        needed = pc.count_distinct(rows["customer_id"]).as_py() if rows.num_rows else 0
        path = self.roster_path
        capacity = sum(int(r["capacity"]) for r in read_roster(path)) if path.is_file() else 0
        figures: dict[str, float] = {"customers with a rep": needed, "roster capacity": capacity}
        if needed > capacity:
            figures["customers beyond capacity"] = needed - capacity
        return figures

    def describe(self, intent: Intent) -> str:
        if intent.event == RELEASE:
            return f"{intent.customer_id}: release from {intent.detail}"
        return f"{intent.customer_id}: assign a rep"

    def start(self, ctx: ApplyContext) -> None:
        self._roster = [(r["rep_id"], int(r["capacity"])) for r in read_roster(self.roster_path)]
        self._full = 0

    def apply(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        import sqlalchemy as sa

        ra = assignments_table()
        assert ctx.conn is not None
        active = self._active(ctx.store, ctx.conn)
        load: dict[str, int] = {rep: 0 for rep, _ in self._roster}
        for rep in active.values():
            load[rep] = load.get(rep, 0) + 1
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for intent in intents:
            cid = intent.customer_id
            if intent.event == RELEASE:
                rep = active.pop(cid, None)
                if rep is not None:
                    ctx.conn.execute(ra.update().where(
                        ra.c.ruleset == ctx.ruleset, ra.c.action == self.id,
                        ra.c.customer_id == cid, ra.c.released_at.is_(None)).values(
                        released_at=now))
                    load[rep] -= 1
                yield Outcome(intent.key, "done", {"released": rep})
                continue
            if cid in active:  # assigned meanwhile (a resumed intent): sticky
                yield Outcome(intent.key, "done", {"rep_id": active[cid]})
                continue
            free = [(load.get(rep, 0) / cap, i, rep) for i, (rep, cap) in
                    enumerate(self._roster) if cap > 0 and load.get(rep, 0) < cap]
            if not free:
                self._full += 1
                yield Outcome(intent.key, "failed", error=f"every rep in {self.config.roster} "
                              "is at capacity; add reps or raise capacity, then run again")
                continue
            rep = min(free)[2]
            ctx.conn.execute(sa.insert(ra).values(
                ruleset=ctx.ruleset, action=self.id, customer_id=cid, rep_id=rep,
                assigned_at=now, run_id=ctx.run_id))
            active[cid] = rep
            load[rep] = load.get(rep, 0) + 1
            yield Outcome(intent.key, "done", {"rep_id": rep})


@hookimpl
def register_actions(register: Any) -> None:
    register(DedicatedRepAction)
