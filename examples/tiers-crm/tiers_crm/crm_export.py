"""`crm_export`: a table from a CRM report export, e.g. support cases per account.

CRM report exports are CSV with quirks this source handles: a few title lines before the
header, headers with spaces ("Account ID"), US dates ("03/14/2026") and a totals or
confidentiality footer after the data. The file is parsed by pyarrow's CSV reader, dates are
parsed column-wise, and the table is handed to the engine as an Ibis memtable.
"""

from __future__ import annotations

import csv
import os
import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers import ComponentConfig, DataError, Problem, Source, hookimpl
from tiers.core.errors import did_you_mean

if TYPE_CHECKING:
    import ibis.expr.types as ir


class CrmExportConfig(ComponentConfig):
    path: str = Field(description="the exported CSV file, relative to the ruleset's folder")
    skip_rows: int = Field(default=0, ge=0, description="title lines before the header row")
    columns: dict[str, str] = Field(
        default_factory=lambda: {"customer_id": "Account ID", "ts": "Date Opened"},
        description="tiers field -> header in the export; needs customer_id and ts")
    date_format: str = Field(default="%m/%d/%Y",
                             description="strptime format of the ts column, e.g. %d.%m.%Y")


def snake(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")


class CrmExportSource(Source):
    name = "crm_export"
    description = "a CRM report export (CSV with title lines, US dates, totals footer)"
    Config: ClassVar[type[CrmExportConfig]] = CrmExportConfig
    provides = ("customer_id", "ts")

    def headers(self) -> list[str]:
        """The header row, found after ``skip_rows`` title lines."""
        with open(self.context.resolve(self.config.path), newline="",
                  encoding="utf-8-sig") as fh:
            rows = csv.reader(fh)
            for _ in range(self.config.skip_rows):
                next(rows, None)
            return [h.strip() for h in next(rows, [])]

    def _read(self) -> Any:
        import pyarrow.csv as pacsv

        path = self.context.resolve(self.config.path)
        skipped: list[int] = []

        def footer(row: Any) -> str:
            # totals and disclaimer lines have fewer fields than the header: not data
            skipped.append(row.number)
            return "skip"

        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(skip_rows=self.config.skip_rows,
                                               encoding="utf-8-sig"),
                parse_options=pacsv.ParseOptions(invalid_row_handler=footer),
                # every column as text: case numbers keep their zeros, ids stay ids
                convert_options=pacsv.ConvertOptions(
                    column_types={h: "string" for h in self.headers()}),
            )
        except Exception as exc:
            raise DataError(f"{path}: could not read the CRM export ({exc}); check "
                            "`skip_rows` (title lines before the header)") from None
        return table

    def check(self) -> list[Problem]:
        path = self.context.resolve(self.config.path)
        if not os.path.isfile(path):
            return [self.context.problem(
                f"CRM export not found: {path}", "path",
                hint="fix `path` (relative to the ruleset's folder) or export the report again")]
        problems = []
        for field in ("customer_id", "ts"):
            if field not in self.config.columns:
                problems.append(self.context.problem(
                    f"`columns` has no header for {field}", "columns",
                    hint=f"add `{field}: <header in the export>`"))
        headers = self.headers()
        for field, header in self.config.columns.items():
            if header not in headers:
                problems.append(self.context.problem(
                    f"column {header!r} (for {field}) is not in the header of {path} "
                    f"(line {self.config.skip_rows + 1})", "columns", field,
                    hint=f"{did_you_mean(header, headers)}headers: {', '.join(headers)}; "
                         "or adjust `skip_rows`"))
        return problems

    def load(self, con: Any) -> ir.Table:
        import ibis
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self._read()
        by_header = {h: f for f, h in self.config.columns.items()}
        names = [by_header.get(h, snake(h)) for h in table.column_names]
        table = table.rename_columns(names)
        ids = pc.utf8_trim_whitespace(table["customer_id"])
        table = table.filter(pc.invert(pc.equal(pc.fill_null(ids, ""), "")))
        raw = table["ts"]
        parsed = pc.strptime(raw, format=self.config.date_format, unit="s", error_is_null=True)
        bad = pc.and_(pc.is_null(parsed), pc.is_valid(raw))
        n_bad = pc.sum(bad).as_py() or 0
        if n_bad:
            first = table.filter(bad).slice(0, 1).to_pylist()[0]
            raise DataError(
                f"{self.config.path}: {n_bad} row(s) have a {self.config.columns['ts']!r} that "
                f"is not a date in the format {self.config.date_format}, e.g. account "
                f"{first['customer_id']!r}: {first['ts']!r}. Fix `date_format` to match the "
                "export (e.g. %d.%m.%Y) or correct those rows")
        table = table.set_column(table.column_names.index("ts"), "ts", parsed)
        table = table.set_column(table.column_names.index("customer_id"), "customer_id",
                                 pc.utf8_trim_whitespace(table["customer_id"]))
        return ibis.memtable(table.cast(pa.schema(
            [f.with_type(pa.timestamp("us")) if f.name == "ts" else f for f in table.schema])))


@hookimpl
def register_sources(register: Any) -> None:
    register(CrmExportSource)
