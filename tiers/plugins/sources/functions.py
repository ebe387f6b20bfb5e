"""Engine functions Ibis has no portable name for: byte length, a NUL character, and Unicode
normalisation of identifiers.

Imported lazily (it imports Ibis). No ``from __future__ import annotations`` here: Ibis reads
the UDF signatures below at definition time.
"""

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

# Invisible characters: controls (Cc: NUL, tab, ...) and format characters (Cf: zero-width
# space and joiners, BOM, soft hyphen, direction marks, word joiner...). RE2 syntax.
INVISIBLE = r"[\p{Cc}\p{Cf}]"


@ibis.udf.scalar.builtin(name="strlen")
def _duck_bytes(s: str) -> dt.int64:  # type: ignore[valid-type]
    ...


@ibis.udf.scalar.builtin(name="octet_length")
def _spark_bytes(s: str) -> dt.int64:  # type: ignore[valid-type]
    ...


# chr(0) would be the obvious spelling, but sqlglot renders CHR wrongly for both engines
@ibis.udf.scalar.builtin(name="unhex")
def _unhex(text: str) -> dt.binary:  # type: ignore[valid-type]
    ...


@ibis.udf.scalar.builtin(name="decode")
def _duck_decode(data: dt.binary) -> str:  # type: ignore[valid-type]
    ...


@ibis.udf.scalar.builtin(name="try_strptime")
def _duck_try_strptime(s: str, layouts: dt.Array(dt.string)) -> dt.timestamp:  # type: ignore[valid-type]
    ...


# DuckDB's layouts for the documented ISO shapes, by length: with the length fixed and the
# whole text matched, each reads exactly those shapes (no offset, zone or hour 24)
ISO_LAYOUTS = {10: ["%Y-%m-%d"], 16: ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"],
               19: ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]}
ISO_FRACTION_LAYOUTS = ["%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f"]


def duckdb_iso_timestamp(s: ir.StringValue) -> ir.TimestampValue:
    """The documented ISO shapes read by one native call (NULL for anything else): several
    times cheaper than testing the shape character by character, then casting."""
    n = s.length()
    cases = [(n == size, _duck_try_strptime(s, ibis.literal(layouts, dt.Array(dt.string))))
             for size, layouts in ISO_LAYOUTS.items()]
    cases.append(((n >= 21) & (n <= 26), _duck_try_strptime(
        s, ibis.literal(ISO_FRACTION_LAYOUTS, dt.Array(dt.string)))))
    return ibis.cases(*cases, else_=ibis.null("timestamp"))


def byte_length(s: ir.StringValue, backend: str) -> ir.IntegerValue:
    """Size of the UTF-8 text in bytes (``length`` counts characters)."""
    return _spark_bytes(s) if backend == "pyspark" else _duck_bytes(s)


def nul(backend: str) -> ir.StringValue:
    """The NUL character: a SQL literal cannot hold it."""
    zero = _unhex(ibis.literal("00"))
    # DuckDB's cast of a blob to text writes escapes ("\\x00"); decode() does not
    return zero.cast("string") if backend == "pyspark" else _duck_decode(zero)


def normalise_arrow(values: Any) -> Any:
    """NFKC, invisible characters removed, Unicode white space trimmed (columnar, in Arrow)."""
    import pyarrow.compute as pc

    out = pc.utf8_normalize(values, "NFKC")
    out = pc.replace_substring_regex(out, INVISIBLE, "")
    return pc.utf8_trim_whitespace(out)


@ibis.udf.scalar.pyarrow
def tiers_normalise_id(s: str) -> str:
    return normalise_arrow(s)


@ibis.udf.scalar.pandas
def tiers_normalise_id_pandas(s: str) -> str:
    import pyarrow as pa

    return normalise_arrow(pa.array(s, type=pa.string(), from_pandas=True)).to_pandas()


def odd_id(s: ir.StringValue, backend: str) -> ir.BooleanValue:
    """Whether ``s`` holds anything but ASCII, so that it may need normalising.

    Byte length against character length: on 10M ids a tenth of what the regex ``[^ -~]``
    costs (which would also catch ASCII control characters, for one id in millions)."""
    return (byte_length(s, backend) != s.length()).fill_null(False)


def normalise_id(raw: ir.StringValue, odd: ir.BooleanValue, plain: ir.StringValue,
                 backend: str) -> ir.StringValue:
    """Identifiers that differ only by invisible characters, white space at either end or
    compatibility forms (full-width letters, NBSP, ligatures) become one.

    ``odd`` is :func:`odd_id` of ``raw``, computed once by the caller; ``plain`` is the value
    to keep where it is false (``raw`` with spaces trimmed). ASCII, nearly every id, thus
    never reaches the normaliser (NFKC leaves ASCII as it is). Spark evaluates a Python
    function for every row even inside a CASE, so there it is handed NULL for the plain ids
    (cheap to ship) instead.
    """
    if backend == "pyspark":
        only_odd = ibis.cases((odd, raw), else_=ibis.null("string"))
        return ibis.cases((odd, tiers_normalise_id_pandas(only_odd)), else_=plain)
    return ibis.cases((odd, tiers_normalise_id(raw)), else_=plain)
