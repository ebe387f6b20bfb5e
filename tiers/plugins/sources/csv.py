"""`csv`: a table from a CSV file, read by the engine itself (no per-row Python)."""

from __future__ import annotations

import csv
import glob
import os
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers.core.errors import DataError, Problem, did_you_mean
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig, Source
from tiers.core.readers import read_csv

if TYPE_CHECKING:
    import ibis.expr.types as ir

# Fields each well-known table must end up with, after the column mapping.
REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": ("customer_id", "order_ts", "amount"),
    "customers": ("customer_id",),
}
TIMESTAMP_FIELDS = ("order_ts", "ts")
DATE_FIELDS = ("signup_date", "birthday")


class CsvConfig(ComponentConfig):
    path: str = Field(description="file path (relative to the ruleset) or a glob pattern")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="tiers field -> header in the file, e.g. amount: 成交金额")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    amount_scale: int = Field(default=2, ge=0, le=9, description="decimal places of amounts")


class CsvSource(Source):
    name = "csv"
    description = "CSV file(s) with a header row; columns mapped to tiers fields"
    Config: ClassVar[type[CsvConfig]] = CsvConfig

    @property
    def role(self) -> str:
        return str(self.context.loc[-1])

    def files(self) -> list[str]:
        pattern = str(self.context.resolve(self.config.path))
        if glob.has_magic(pattern):
            return sorted(glob.glob(pattern))
        return [pattern]

    def _header(self, path: str) -> list[str]:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh, delimiter=self.config.delimiter), [])

    def check(self) -> list[Problem]:
        files = self.files()
        ctx = self.context
        missing = [f for f in files if not os.path.isfile(f)]
        if not files or missing:
            return [ctx.problem(
                f"data file not found: {missing[0] if missing else self.config.path}", "path",
                hint="fix `path` (relative to the ruleset's folder) or create the file")]
        try:
            header = self._header(files[0])
        except UnicodeDecodeError:
            return [ctx.problem(f"{files[0]} is not UTF-8 text", "path",
                                hint="save the file as UTF-8")]
        problems = []
        for field, column in self.config.columns.items():
            if column not in header:
                problems.append(ctx.problem(
                    f"column {column!r} (for {field}) is not in the header of {files[0]}",
                    "columns", field,
                    hint=f"{did_you_mean(column, header)}headers: {', '.join(header)}"))
        for field in REQUIRED.get(self.role, ()):
            column = self.config.columns.get(field, field)
            if column not in header and field not in self.config.columns:
                problems.append(ctx.problem(
                    f"the {self.role} table needs a `{field}` column; {files[0]} has none",
                    "columns",
                    hint=f"map it: `columns: {{{field}: <header in the file>}}`; "
                         f"headers: {', '.join(header)}"))
        return problems

    def load(self, con: Any) -> ir.Table:
        files = self.files()
        try:
            table = read_csv(con, files if len(files) > 1 else files[0],
                             table_name=f"src_{self.role}", delimiter=self.config.delimiter)
        except Exception as exc:
            raise DataError(f"{self.config.path}: could not read CSV ({exc}). "
                            "Check the delimiter and that the file is CSV text.") from None
        renames = {f: c for f, c in self.config.columns.items() if f != c}
        if renames:
            table = table.rename(renames)
        return conform(table, self.config.amount_scale)


def conform(table: ir.Table, amount_scale: int) -> ir.Table:
    """Cast well-known fields to the types the engine expects, whatever the source inferred."""
    casts: dict[str, Any] = {}
    if "customer_id" in table.columns:
        casts["customer_id"] = table.customer_id.cast("string")
    if "amount" in table.columns:
        casts["amount"] = table.amount.cast(f"decimal(18, {amount_scale})")
    for name in TIMESTAMP_FIELDS:
        if name in table.columns and not table[name].type().is_timestamp():
            casts[name] = table[name].cast("timestamp")
    for name in DATE_FIELDS:
        if name in table.columns and not table[name].type().is_date():
            casts[name] = table[name].cast("date")
    return table.mutate(**casts) if casts else table


@hookimpl
def register_sources(register: Any) -> None:
    register(CsvSource)
