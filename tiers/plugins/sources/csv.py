"""`csv`: CSV file(s) with a header row, as exported by shops, CRMs and spreadsheets.

Plain UTF-8 files (with or without BOM) are read by the engine itself; other encodings (GBK,
GB18030, UTF-16...) are decoded by pyarrow first, because neither DuckDB nor Spark reads them.
Either way no Python code runs per row.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers.core.errors import Problem
from tiers.core.hookspecs import hookimpl
from tiers.plugins.sources.options import (
    AMOUNT_FIELDS,
    DATE_FIELDS,
    ID_FIELDS,
    REQUIRED,
    TIMESTAMP_FIELDS,
    TableOptions,
)
from tiers.plugins.sources.quality import FILE, LINE, RowCheck, SourceError
from tiers.plugins.sources.sniff import ENGINE_ENCODINGS, Sniffed, SniffError, sniff
from tiers.plugins.sources.table_source import TableSource, backend_name

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["REQUIRED", "CsvConfig", "CsvSource", "conform"]

TEXT_FIELDS = (*ID_FIELDS, *AMOUNT_FIELDS, *TIMESTAMP_FIELDS, *DATE_FIELDS, "currency")
MiB = 1 << 20
# below this a CSV file is copied into the engine once rather than read where it lies
COPY_BELOW_BYTES = 64 * MiB


class CsvConfig(TableOptions):
    path: str = Field(description="file path (relative to the ruleset) or a glob pattern")
    encoding: str = Field(
        default="auto",
        description="auto (UTF-8, UTF-8 with BOM, UTF-16 with BOM, else GB18030), or a name: "
                    "utf-8, gbk, gb18030, big5...")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote: str = Field(default='"', max_length=1, description="quote character ('' for none)")
    max_field_bytes: int = Field(
        default=MiB, ge=1024, le=64 * MiB,
        description="largest value a field may hold, in bytes; a longer one is rejected "
                    "(field_too_large), and a line longer than twice this stops the load")

    @property
    def max_line_bytes(self) -> int:
        """The engines' line limit: twice the field limit, and never below DuckDB's own."""
        return max(2 * self.max_field_bytes, 2 * MiB)


class CsvSource(TableSource):
    name = "csv"
    description = "CSV file(s) with a header row; encodings, messy amounts and dates handled"
    Config: ClassVar[type[CsvConfig]] = CsvConfig

    def files(self) -> list[str]:
        pattern = str(self.context.resolve(self.config.path))
        if glob.has_magic(pattern):
            return sorted(glob.glob(pattern, recursive=True))
        return [pattern]

    def describe(self) -> str:
        return self.config.path

    def origins(self) -> list[str]:
        return self.files()

    def _sniff(self, path: str) -> Sniffed:
        try:
            return sniff(path, self.config.encoding, self.config.delimiter, self.config.quote)
        except SniffError as exc:
            raise SourceError(f"sources.{self.role}: {path} {exc}") from None

    def check(self) -> list[Problem]:
        files = self.files()
        ctx = self.context
        missing = [f for f in files if not os.path.isfile(f)]
        if not files or missing:
            return [ctx.problem(
                f"data file not found: {missing[0] if missing else self.config.path}", "path",
                hint="fix `path` (relative to the ruleset's folder) or create the file")]
        try:
            sniffed = self._sniff(files[0])
        except SourceError as exc:
            return [ctx.problem(str(exc).split(": ", 1)[1], "path",
                                hint="fix the file or point `path` at the right one")]
        return self.mapping_problems(sniffed.header, f"the header of {files[0]}")

    def row_check(self, con: Any, only: Sequence[str] | None = None) -> RowCheck:
        check = super().row_check(con, only)
        check.max_field_bytes = self.config.max_field_bytes
        check.binary_check = True
        backend = check.backend
        check.explain_read_error = lambda exc: self._explain(exc, backend)
        return check

    def _shape(self, encoding: str, backend: str = "duckdb") -> Any:
        from tiers.plugins.sources.csv_lines import Shape

        # Spark reads UTF-8 itself one line at a time; other encodings go through pyarrow
        spark_reads = backend == "pyspark" and encoding in ENGINE_ENCODINGS
        return Shape(encoding, self.config.delimiter, self.config.quote,
                     self.config.max_field_bytes, self.config.max_line_bytes,
                     one_line_records=spark_reads)

    def _explain(self, exc: Exception, backend: str) -> str | None:
        """The first broken line among the files, when an engine read fails."""
        from tiers.plugins.sources.csv_lines import diagnose

        for path in self.files():
            if not os.path.isfile(path):
                continue
            found = diagnose(path, self._shape(self._sniff(path).encoding, backend))
            if found is not None:
                return found.render(path)
        return None

    def _text_columns(self, header: list[str]) -> list[str]:
        wanted = [self.config.columns.get(f, f) for f in TEXT_FIELDS]
        return [c for c in header if c in wanted]

    def raw(self, con: Any) -> ir.Table:
        import ibis

        files = self.files()
        if not files:
            raise SourceError(f"sources.{self.role}: no file matches {self.config.path}\n"
                              "    fix: check the pattern (relative to the ruleset's folder)")
        tables = []
        first_header: list[str] | None = None
        for index, path in enumerate(files):
            if not os.path.isfile(path):
                raise SourceError(f"sources.{self.role}: data file not found: {path}")
            sniffed = self._sniff(path)
            if first_header is None:
                first_header = sniffed.header
            elif sniffed.header != first_header:
                raise SourceError(
                    f"sources.{self.role}: {path} has other columns than {files[0]}\n"
                    f"    expected: {', '.join(first_header)}\n"
                    f"    found:    {', '.join(sniffed.header)}\n"
                    "    fix: give every file matched by `path` the same header")
            if not sniffed.has_rows:
                if self.config.allow_empty:
                    continue
                raise SourceError(f"sources.{self.role}: {path} has a header but no rows\n"
                                  "    fix: export the data again, or set `allow_empty: true`")
            table = self._read_one(con, path, sniffed)
            tables.append(table.mutate(**{FILE: ibis.literal(index, "int32"),
                                          LINE: (ibis.row_number() + 2).cast("int64")}))
        if not tables:
            return self._empty(first_header or [])
        if len(tables) == 1:
            return tables[0]
        schema = tables[0].schema()
        aligned = [t.select(*[t[c].cast(schema[c]) for c in schema.names]) for t in tables]
        return ibis.union(*aligned, distinct=False)

    def _empty(self, header: list[str]) -> ir.Table:
        import ibis

        return ibis.memtable({**{h: [] for h in header}, FILE: [], LINE: []},
                             schema={**{h: "string" for h in header}, FILE: "int32",
                                     LINE: "int64"})

    def _read_one(self, con: Any, path: str, sniffed: Sniffed) -> ir.Table:
        from tiers import table_name

        text_columns = self._text_columns(sniffed.header)
        name = table_name(f"csv_{self.role}")
        backend = backend_name(con)
        try:
            if (sniffed.encoding in ENGINE_ENCODINGS and backend == "duckdb"
                    and os.path.getsize(path) <= COPY_BELOW_BYTES):
                return self._copy_small(con, path, name, text_columns)
            if sniffed.encoding in ENGINE_ENCODINGS and backend == "duckdb":
                return con.read_csv(path, table_name=name, header=True,
                                    delim=self.config.delimiter, quote=self.config.quote,
                                    max_line_size=self.config.max_line_bytes,
                                    types={c: "VARCHAR" for c in text_columns})
            if sniffed.encoding in ENGINE_ENCODINGS and backend == "pyspark":
                # FAILFAST: Spark's default drops extra fields and pads missing ones silently
                table = con.read_csv(path, table_name=name, header=True,
                                     sep=self.config.delimiter, quote=self.config.quote,
                                     encoding="UTF-8", inferSchema=True, mode="FAILFAST",
                                     maxCharsPerColumn=self.config.max_line_bytes)
                return table.mutate(**{c: table[c].cast("string") for c in text_columns})
            return self._decode_with_pyarrow(path, sniffed, text_columns)
        except SourceError:
            raise
        except Exception as exc:
            from tiers.plugins.sources.csv_lines import diagnose

            found = diagnose(path, self._shape(sniffed.encoding, backend))
            if found is not None:
                raise SourceError(f"{self.label}: {found.render(path)}") from None
            raise SourceError(
                f"{self.label}: could not read {path} as CSV: {_first_line(exc)}\n"
                "    fix: check `delimiter`, `quote` and `encoding`, and that every line has "
                "as many fields as the header") from None

    def _copy_small(self, con: Any, path: str, name: str, text_columns: list[str]
                    ) -> ir.Table:
        """A small file read once into a table of its own.

        DuckDB detects a file's column types each time a view over it is planned (when named,
        described, then queried), which costs a small file more than reading it; a copy is
        detected and read once. A large file stays a view, read where it lies."""
        import sqlglot as sg
        import sqlglot.expressions as sge

        options = {"header": True, "auto_detect": True, "delim": self.config.delimiter,
                   "quote": self.config.quote, "max_line_size": self.config.max_line_bytes}
        arguments = [sge.convert(path),
                     *[sg.column(k).eq(sge.convert(v)) for k, v in options.items()]]
        if text_columns:
            types = sge.Struct(expressions=[
                sge.PropertyEQ(this=sge.to_identifier(c), expression=sge.convert("VARCHAR"))
                for c in text_columns])
            arguments.append(sg.column("types").eq(types))
        query = sg.select("*").from_(sge.Anonymous(this="read_csv", expressions=arguments))
        con.raw_sql(f'CREATE TEMP TABLE "{name}" AS {query.sql("duckdb")}')
        return con.table(name)

    def _decode_with_pyarrow(self, path: str, sniffed: Sniffed, text_columns: list[str]
                             ) -> ir.Table:
        import ibis
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(
            path,
            # a block must hold a whole line
            read_options=pacsv.ReadOptions(encoding=sniffed.encoding,
                                           block_size=self.config.max_line_bytes + MiB),
            parse_options=pacsv.ParseOptions(delimiter=self.config.delimiter,
                                              quote_char=self.config.quote or False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in text_columns}))
        table = table.rename_columns([c.lstrip("\ufeff").strip() for c in table.column_names])
        # an all-empty column has no type; engines cannot store that
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                            for f in table.schema])
        return ibis.memtable(table.cast(schema))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def conform(table: ir.Table, amount_scale: int) -> ir.Table:
    """Cast well-known fields to the types the engine expects (for already clean tables)."""
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
