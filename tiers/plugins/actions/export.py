"""`export`: write the run's assignments, events or intents to CSV, Parquet or a table.

One intent per run period: the file is written atomically (a failed write leaves no half
file); a table gets the rows appended with ``run_id`` and ``as_of`` columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from tiers.core.actions import (
    ActionConfig,
    Intent,
    Outcome,
    PlanInput,
    TierAction,
    idempotency_key,
    period_label,
)
from tiers.core.apply import ApplyContext
from tiers.core.hookspecs import hookimpl


class ExportConfig(ActionConfig):
    what: Literal["assignments", "events", "intents"] = Field(
        default="assignments", description="the run's tiers per customer, its events, or "
        "the intents it planned")
    path: str | None = Field(default=None, description=".csv or .parquet file relative to "
                             "the ruleset; {ruleset}, {as_of}, {run} expand")
    table: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                              description="database table to append to")
    url: str | None = Field(default=None, description="database URL for `table` (default: "
                            "the state store)")
    columns: list[str] | None = Field(default=None, description="columns to keep")

    @model_validator(mode="after")
    def _one_target(self) -> ExportConfig:
        if (self.path is None) == (self.table is None):
            raise ValueError("give exactly one of `path` (a file) or `table`")
        return self


class ExportAction(TierAction):
    name = "export"
    description = "write assignments, events or intents to CSV / Parquet / a database table"
    Config: ClassVar[type[ExportConfig]] = ExportConfig
    external = False
    requires_when = False
    has_costs = False  # a file written, nothing handed to customers

    def plan(self, inp: PlanInput) -> list[Intent]:
        period = period_label(inp.as_of, self.config.period)
        key = idempotency_key(inp.ruleset, self.id, "*", f"export:{self.config.what}", period)
        rows = self._rows(inp).num_rows
        return [Intent(key, self.id, self.name, "*", "export", self.config.what, period,
                       {"rows": rows})]

    def describe(self, intent: Intent) -> str:
        target = self.config.path or f"table {self.config.table}"
        return f"{intent.payload.get('rows')} {self.config.what} rows to {target}"

    def _rows(self, inp: PlanInput) -> Any:
        import pyarrow as pa

        if self.config.what == "assignments":
            table = (inp.result if self.config.when.is_empty()
                     else self.select(inp).drop("event", "detail").to_pyarrow())
        elif self.config.what == "events":
            if inp.events is None:
                table = pa.table({"customer_id": pa.array([], pa.string()),
                                  "event": pa.array([], pa.string()),
                                  "detail": pa.array([], pa.string())})
            else:
                ev = inp.events
                wanted = self.config.when.event
                if wanted:
                    ev = ev.filter(ev.event.isin([wanted] if isinstance(wanted, str)
                                                 else wanted))
                table = ev.to_pyarrow()
        else:
            table = self._intents(inp)
        if self.config.columns:
            table = table.select(self.config.columns)
        return table

    def _intents(self, inp: PlanInput) -> Any:
        import pyarrow as pa
        import sqlalchemy as sa

        from tiers.store.schema import ledger

        cols = ("key", "action", "action_type", "customer_id", "event", "detail", "period",
                "status", "error", "result")
        run_id = getattr(self, "_run_id", None)
        conn = getattr(self, "_conn", None)  # the apply batch's transaction
        if conn is None or run_id is None:
            return pa.table({c: pa.array([], pa.string()) for c in cols})
        rows = conn.execute(sa.select(*(ledger.c[c] for c in cols)).where(
            ledger.c.planned_run == run_id).order_by(ledger.c.action,
                                                      ledger.c.customer_id)).all()
        data = list(zip(*rows, strict=True)) if rows else [[] for _ in cols]
        return pa.table({c: pa.array(list(d), pa.string()) for c, d in zip(cols, data,
                                                                             strict=True)})

    def execute(self, intents: list[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        import ibis

        from tiers.core.actions import PlanInput

        result = ctx.result
        if result is None:
            for intent in intents:
                yield Outcome(intent.key, "failed", error="export needs the run's result")
            return
        self._run_id, self._conn = ctx.run_id, ctx.conn
        inp = PlanInput(ctx.ruleset, ctx.as_of, ibis.memtable(result.table),
                        ibis.memtable(result.events) if result.events is not None else None,
                        result.table, [], ctx.store)
        table = self._rows(inp)
        for intent in intents:
            if self.config.path:
                from pathlib import Path

                from tiers.core.engine import write_table

                path = self.context.resolve(self.config.path.format(
                    ruleset=ctx.ruleset, as_of=ctx.as_of.date().isoformat(), run=ctx.run_id))
                write_table(_flat(table), Path(path))
                yield Outcome(intent.key, "done", {"rows": table.num_rows, "path": str(path)})
            else:
                self._to_table(table, ctx)
                yield Outcome(intent.key, "done", {"rows": table.num_rows,
                                                   "table": self.config.table})

    def _to_table(self, table: Any, ctx: ApplyContext) -> None:
        import pyarrow as pa
        import sqlalchemy as sa

        from tiers.store import bulk

        flat = _flat(table)
        flat = flat.append_column("run_id", pa.repeat(pa.scalar(ctx.run_id, pa.int32()),
                                                      flat.num_rows))
        flat = flat.append_column("as_of", pa.repeat(pa.scalar(ctx.as_of, pa.timestamp("us")),
                                                     flat.num_rows))
        md = sa.MetaData()
        target = sa.Table(self.config.table, md, *[
            sa.Column(f.name, _sql_type(f.type)) for f in flat.schema])
        if self.config.url:
            engine = sa.create_engine(self.config.url)
            with engine.begin() as conn:
                md.create_all(conn)
                bulk.write(conn, target, flat)
            engine.dispose()
        else:
            assert ctx.conn is not None
            md.create_all(ctx.conn)
            bulk.write(ctx.conn, target, flat)


def _flat(table: Any) -> Any:
    """Lists become text (labels joined by ', '); files and tables want flat columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            col = pc.binary_join(col, ", ")
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def _sql_type(t: Any) -> Any:
    import pyarrow as pa
    import sqlalchemy as sa

    if pa.types.is_integer(t):
        return sa.BigInteger()
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return sa.Float()
    if pa.types.is_boolean(t):
        return sa.Boolean()
    if pa.types.is_timestamp(t):
        return sa.DateTime()
    if pa.types.is_date(t):
        return sa.Date()
    return sa.Text()


@hookimpl
def register_actions(register: Any) -> None:
    register(ExportAction)
