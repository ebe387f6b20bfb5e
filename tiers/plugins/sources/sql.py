"""`sql`: a table or query in a database, by SQLAlchemy URL or Ibis connection string.

Filtering (``where``) runs in the database; the result streams in Arrow batches into the
engine. Passwords come from the environment (``${PG_PASSWORD}`` in the URL) and never appear
in messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from tiers.core.hookspecs import hookimpl
from tiers.plugins.sources.options import TableOptions
from tiers.plugins.sources.quality import FILE, LINE, RowCheck, SourceError
from tiers.plugins.sources.redact import redact_text, redact_url
from tiers.plugins.sources.table_source import TableSource

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa


class SqlConfig(TableOptions):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://user:${PW}@host/db")
    ibis_url: str | None = Field(
        default=None, description="Ibis connection string, e.g. duckdb:///warehouse.duckdb")
    table: str | None = Field(default=None, description="table (or view) name")
    db_schema: str | None = Field(default=None, description="schema of `table`")
    query: str | None = Field(default=None, description="a SELECT to run instead of `table`")
    where: str | None = Field(
        default=None, description="SQL condition run in the database, e.g. created_at >= "
                                  "'2025-01-01'")
    batch_size: int = Field(default=100_000, ge=1, description="rows per fetched batch")

    @model_validator(mode="after")
    def _one_of_each(self) -> SqlConfig:
        if (self.url is None) == (self.ibis_url is None):
            raise ValueError("give exactly one of `url` (SQLAlchemy) or `ibis_url`")
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` or `query`")
        return self


class SqlSource(TableSource):
    name = "sql"
    description = "a table or query in a database (SQLAlchemy URL or Ibis backend)"
    Config: ClassVar[type[SqlConfig]] = SqlConfig
    stored = False  # typed rows: reading them again is cheaper than a copy

    def describe(self) -> str:
        what = self.config.table or "query"
        return f"{what} at {self._safe_url()}"

    def _safe_url(self) -> str:
        return redact_url(self.config.url or self.config.ibis_url or "", self.secret_values())

    def secret_values(self) -> list[str]:
        """The password of the URL (as written and decoded) and secret query values, to keep
        out of every message and file."""
        from urllib.parse import parse_qsl, unquote, urlsplit

        from tiers.plugins.sources.redact import SECRET_NAME

        values: list[str] = []
        for url in (self.config.url, self.config.ibis_url):
            if not url:
                continue
            try:
                parts = urlsplit(url)
                password = parts.password
            except ValueError:
                continue
            if password:
                values += [password, unquote(password)]
            values += [v for k, v in parse_qsl(parts.query) if SECRET_NAME.search(k) and v]
        return values

    def row_check(self, con: Any, only: Sequence[str] | None = None) -> RowCheck:
        check = super().row_check(con, only)
        check.secrets = self.secret_values()
        return check

    def _select_sql(self, quote: Any) -> str:
        if self.config.table:
            parts = [self.config.db_schema, self.config.table] if self.config.db_schema else [
                self.config.table]
            base = f"SELECT * FROM {'.'.join(quote(p) for p in parts)}"
        else:
            base = f"SELECT * FROM ({self.config.query.rstrip().rstrip(';')}) AS tiers_q"
        return f"{base} WHERE {self.config.where}" if self.config.where else base

    def fetch(self) -> pa.Table:
        """The rows as one Arrow table, read in batches; errors say what to fix."""
        try:
            return self._fetch_sqlalchemy() if self.config.url else self._fetch_ibis()
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(
                f"{self.label}: the database query failed: "
                f"{redact_text(_first_line(exc), self.secret_values())}\n"
                "    fix: check the URL, credentials, table name and `where`/`query` SQL"
            ) from None

    def _fetch_sqlalchemy(self) -> pa.Table:
        import pyarrow as pa
        import sqlalchemy as sa

        engine = sa.create_engine(self.config.url)
        try:
            quote = engine.dialect.identifier_preparer.quote
            batches: list[pa.Table] = []
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(
                    sa.text(self._select_sql(quote)))
                names = list(result.keys())
                for part in result.partitions(self.config.batch_size):
                    columns = list(zip(*part, strict=True))
                    batches.append(pa.table([pa.array(c) for c in columns], names=names))
            if not batches:
                return pa.table({n: pa.array([], pa.string()) for n in names})
            return pa.concat_tables(batches, promote_options="permissive")
        finally:
            engine.dispose()

    def _fetch_ibis(self) -> pa.Table:
        import ibis

        backend = ibis.connect(self.config.ibis_url)
        try:
            if self.config.table and not self.config.where:
                database = self.config.db_schema
                expr = backend.table(self.config.table, database=database)
            else:
                expr = backend.sql(self._select_sql(lambda n: f'"{n}"'))
            return backend.to_pyarrow(expr)
        finally:
            backend.disconnect()

    def raw(self, con: Any) -> ir.Table:
        import ibis
        import pyarrow as pa

        data = self.fetch()
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                            for f in data.schema])
        table = ibis.memtable(data.cast(schema))
        return table.mutate(**{FILE: ibis.literal(0, "int32"),
                               LINE: (ibis.row_number() + 1).cast("int64")})


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@hookimpl
def register_sources(register: Any) -> None:
    register(SqlSource)
