"""Time-zone conversion of naive timestamps on each engine (DST aware).

Imported lazily (it imports Ibis). No ``from __future__ import annotations`` here: Ibis reads
the UDF signatures below at definition time.
"""

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

NAIVE = dt.Timestamp()
AWARE = dt.Timestamp(timezone="UTC")


# DuckDB (its sessions run in UTC under Ibis): timezone(zone, naive) reads the naive value as
# local time in zone; timezone(zone, timestamptz) gives the clock time there.
@ibis.udf.scalar.builtin(name="timezone")
def _duck_local_to_instant(zone: str, ts: NAIVE) -> AWARE:  # type: ignore[valid-type]
    ...


@ibis.udf.scalar.builtin(name="timezone")
def _duck_instant_to_local(zone: str, ts: AWARE) -> NAIVE:  # type: ignore[valid-type]
    ...


# Spark (sessions set to UTC, see IBIS_NOTES): the two functions named for what they do.
@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _spark_to_utc(ts: NAIVE, zone: str) -> NAIVE:  # type: ignore[valid-type]
    ...


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_from_utc(ts: NAIVE, zone: str) -> NAIVE:  # type: ignore[valid-type]
    ...


def zone_to_utc(ts: ir.TimestampValue, zone: str, backend: str) -> ir.TimestampValue:
    """Naive local time in ``zone`` -> naive UTC."""
    if backend == "pyspark":
        return _spark_to_utc(ts, zone)
    return _duck_local_to_instant(zone, ts).cast(NAIVE)


def utc_to_zone(ts: ir.TimestampValue, zone: str, backend: str) -> ir.TimestampValue:
    """Naive UTC -> naive local time in ``zone``."""
    if backend == "pyspark":
        return _spark_from_utc(ts, zone)
    return _duck_instant_to_local(zone, ts.cast(AWARE))
