"""`parquet`: Parquet file(s), a glob, or a directory with hive partitions (``year=2026/...``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers.core.errors import Problem
from tiers.core.hookspecs import hookimpl
from tiers.core.sqltext import literal
from tiers.plugins.sources.options import TableOptions
from tiers.plugins.sources.quality import FILE, LINE, RowCheck, SourceError
from tiers.plugins.sources.table_source import TableSource, backend_name

if TYPE_CHECKING:
    import ibis.expr.types as ir


class ParquetConfig(TableOptions):
    path: str = Field(description="a .parquet file, a glob, or a directory (read recursively)")
    hive_partitioning: bool = Field(
        default=True, description="turn `name=value` folders into columns")


class ParquetSource(TableSource):
    name = "parquet"
    description = "Parquet files or a hive-partitioned directory"
    Config: ClassVar[type[ParquetConfig]] = ParquetConfig
    stored = False  # typed rows: reading them again is cheaper than a copy
    #: the DuckDB view raw() reads the files through, and the files (for their statistics)
    _read: tuple[str, list[str]] | None = None

    def describe(self) -> str:
        return self.config.path

    def files(self) -> list[str]:
        target = str(self.context.resolve(self.config.path))
        if os.path.isdir(target):
            return sorted(glob.glob(os.path.join(target, "**", "*.parquet"), recursive=True))
        if glob.has_magic(target):
            return sorted(glob.glob(target, recursive=True))
        return [target] if os.path.exists(target) else []

    def origins(self) -> list[str]:
        return self.files()

    def _schema_names(self, files: list[str]) -> list[str]:
        # the columns as the engine will read them (partition folders included), from the
        # footers alone
        listed = ", ".join(literal(f) for f in files)
        hive = "true" if self.config.hive_partitioning else "false"
        return [row[0] for row in _footers().cursor().execute(
            f"DESCRIBE SELECT * FROM read_parquet([{listed}], hive_partitioning = {hive})"
        ).fetchall()]

    def check(self) -> list[Problem]:
        files = self.files()
        if not files:
            return [self.context.problem(
                f"no Parquet data at {self.config.path}", "path",
                hint="fix `path` (a file, glob or directory relative to the ruleset)")]
        try:
            names = self._schema_names(files)
        except Exception as exc:
            return [self.context.problem(
                f"cannot read Parquet at {self.config.path}: {_first_line(exc)}", "path",
                hint="the file may be truncated or not Parquet; write it again")]
        return self.mapping_problems(names, self.config.path)

    def raw(self, con: Any) -> ir.Table:
        import ibis

        files = self.files()
        if not files:
            raise SourceError(f"{self.label}: no Parquet data found\n"
                              "    fix: check `path` (relative to the ruleset's folder)")
        self._validate_files(files)
        from tiers import table_name

        name = table_name(f"parquet_{self.role}")
        try:
            if backend_name(con) == "duckdb":
                self._read = (name, files)
                table = con.read_parquet(files, table_name=name, filename="_tiers_filename",
                                         file_row_number=True,
                                         hive_partitioning=self.config.hive_partitioning)
                index = ibis.cases(*[(table._tiers_filename == f, i) for i, f in
                                     enumerate(files)], else_=-1)
                return table.mutate(**{FILE: index.cast("int32"),
                                       LINE: (table.file_row_number + 1).cast("int64")}
                                    ).drop("_tiers_filename", "file_row_number")
            root = str(self.context.resolve(self.config.path))
            # Spark's reader takes one path (a list would be read as one glob pattern): a
            # folder as it is, files one by one
            paths = [root] if os.path.isdir(root) else files
            parts = [con.read_parquet(path, table_name=f"{name}_{i}").mutate(
                **{FILE: ibis.literal(0 if len(paths) == 1 else i, "int32"),
                   LINE: (ibis.row_number() + 1).cast("int64")})
                for i, path in enumerate(paths)]
            return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
        except Exception as exc:
            raise SourceError(f"{self.label}: could not read Parquet: {_first_line(exc)}\n"
                              "    fix: write the file(s) again; all parts need one schema"
                              ) from None

    def row_check(self, con: Any, only: Sequence[str] | None = None) -> RowCheck:
        check = super().row_check(con, only)
        read = self._read
        if read is not None and backend_name(con) == "duckdb":
            from tiers.plugins.sources.statistics import parquet_extremes

            view, files = read
            check.extremes = lambda columns: parquet_extremes(con, files, view, columns)
        return check

    def _validate_files(self, files: list[str]) -> None:
        """Name the broken file (truncated, not Parquet) before the engine fails vaguely."""
        for path in files:
            try:
                _footers().cursor().execute(
                    f"SELECT 1 FROM parquet_file_metadata({literal(path)})")
            except Exception as exc:
                raise SourceError(
                    f"{self.label}: {path} is not a readable Parquet file "
                    f"({_first_line(exc)})\n"
                    "    fix: it may be truncated or still being written; write it again"
                ) from None


@cache
def _footers() -> Any:
    """A DuckDB connection of its own for reading footers, before and apart from the engine's
    (which may be Spark): DuckDB reads them without importing pyarrow's Parquet modules.
    Each read takes a cursor of its own, so threads may share it."""
    import duckdb

    return duckdb.connect()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@hookimpl
def register_sources(register: Any) -> None:
    register(ParquetSource)
