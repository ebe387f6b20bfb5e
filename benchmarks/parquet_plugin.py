"""A stand-in Parquet source for the benchmarks while tiers has no built-in one.

Registered through a real ``tiers`` entry point (see ``run.py``); reads with the engine's own
reader, so Parquet is scanned by DuckDB or Spark, never pulled through Python.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from tiers import ComponentConfig, Source, hookimpl


class BenchParquetConfig(ComponentConfig):
    path: str = Field(description="Parquet file")


class BenchParquetSource(Source):
    name = "bench_parquet"
    description = "Parquet file read by the engine (benchmarks only)"
    Config: ClassVar[type[BenchParquetConfig]] = BenchParquetConfig

    def load(self, con: Any) -> Any:
        from tiers.engine.readers import read_parquet

        path = str(self.context.resolve(self.config.path))
        return read_parquet(con, path, table_name=f"src_{self.context.loc[-1]}")


@hookimpl
def register_sources(register: Any) -> None:
    register(BenchParquetSource)
