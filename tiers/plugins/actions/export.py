"""`export`: write the run's assignments, events or intents to CSV, Parquet or a table.

One intent per run period: the file is written atomically (a failed write leaves no half
file); a table gets the rows appended with ``run_id`` and ``as_of`` columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

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
from tiers.core.files import write_table
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


class ExportAction(Action):
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

    def output_path(self, as_of: Any, run_id: int = 0) -> Path | None:
        """The file this export writes for a run at ``as_of`` (None for a table)."""
        if not self.config.path:
            return None
        return Path(self.context.resolve(self.config.path.format(
            ruleset=self.context.ruleset.name, as_of=as_of.date().isoformat(), run=run_id)))

    def _rows(self, inp: PlanInput) -> Any:
        import pyarrow as pa

        if self.config.what == "assignments":
            table = (inp.result if self.config.when.is_empty()
                     else inp.fetch(self.select(inp).drop("event", "detail")))
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
                table = inp.fetch(ev)
        else:
            table = self._intents()
        if self.config.columns:
            table = table.select(self.config.columns)
        return table

    def _intents(self) -> Any:
        import pyarrow as pa

        cols = ("key", "action", "action_type", "customer_id", "event", "detail", "period",
                "status", "error", "result")
        ctx = getattr(self, "_ctx", None)  # set while applying: the run's ledger rows
        rows = ctx.ledger(run=ctx.run_id) if ctx is not None else []
        rows.sort(key=lambda r: (r["action"], r["customer_id"]))
        return pa.table({c: pa.array([None if r[c] is None else
                                      (r[c] if isinstance(r[c], str) else json.dumps(r[c]))
                                      for r in rows], pa.string()) for c in cols})

    def apply(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        if ctx.inputs is None:
            for intent in intents:
                yield Outcome(intent.key, "failed", error="export needs the run's result")
            return
        self._ctx = ctx
        try:
            table = self._rows(ctx.inputs)
        finally:
            self._ctx = None
        for intent in intents:
            if self.config.path:
                path = self.output_path(ctx.as_of, ctx.run_id)
                assert path is not None
                write_table(_flat(table), path)
                yield Outcome(intent.key, "done", {"rows": table.num_rows, "path": str(path)})
            else:
                flat = _flat(table)
                n = flat.num_rows
                flat = flat.append_column("run_id", pa_repeat(ctx.run_id, "int32", n))
                flat = flat.append_column("as_of", pa_repeat(ctx.as_of, "timestamp", n))
                ctx.append_rows(self.config.table, flat, url=self.config.url)
                yield Outcome(intent.key, "done", {"rows": table.num_rows,
                                                   "table": self.config.table})


def pa_repeat(value: Any, kind: str, n: int) -> Any:
    import pyarrow as pa

    t = pa.int32() if kind == "int32" else pa.timestamp("us")
    return pa.repeat(pa.scalar(value, t), n)


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


@hookimpl
def register_actions(register: Any) -> None:
    register(ExportAction)
