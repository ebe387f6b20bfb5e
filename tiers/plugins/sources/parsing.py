"""Columnar parsers for messy text: amounts with currency marks and dates in several formats.

Every parser returns Ibis expressions (never a Python loop), and a NULL where the text cannot
be read, so the caller can name the reason the row is rejected. Regexes use only syntax that
DuckDB (RE2) and Spark (Java) read alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

# Currency marks seen in exports, and the ISO codes each may stand for.
SYMBOL_CURRENCIES: dict[str, tuple[str, ...]] = {
    "¥": ("CNY", "JPY"),
    "￥": ("CNY", "JPY"),
    "元": ("CNY",),
    "RMB": ("CNY",),
    "$": ("USD", "CAD", "AUD", "HKD", "SGD", "NZD", "TWD", "MXN"),
    "€": ("EUR",),
    "£": ("GBP",),
    "₩": ("KRW",),
    "₹": ("INR",),
}
_SYMBOLS = "¥￥$€£₩₹元"
_MARK = rf"[{_SYMBOLS}]|[A-Z]{{3}}"
_NON_FINITE = r"^[+-]?\s*(?i:nan|inf|infinity)$"


def trimmed(s: ir.StringValue) -> ir.StringValue:
    """``s.strip()`` only where the value starts or ends with blank space: Ibis' strip trims a
    set of characters, which DuckDB runs several times slower than a prefix test."""
    import ibis

    padded = (s.startswith(" ") | s.endswith(" ") | s.startswith("\t") | s.endswith("\t")
              | s.endswith("\r"))
    return ibis.cases((padded, s.strip()), else_=s)


def allowed_marks(currency: str | None) -> set[str] | None:
    """Currency marks acceptable for a ruleset's currency; None when any mark is fine."""
    if currency is None:
        return None
    code = currency.upper()
    return {m for m, codes in SYMBOL_CURRENCIES.items() if code in codes} | {code}


def amount_pattern(thousands: str, decimal: str) -> str:
    """Whole-value regex: sign, optional mark, number, optional mark (e.g. "-¥1,280.00")."""
    d = re.escape(decimal)
    plain = rf"\d+(?:{d}\d*)?(?:[eE][+-]?\d+)?|{d}\d+"
    number = plain
    if thousands:
        t = re.escape(thousands)
        number = rf"\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d*)?|{plain}"
    return rf"^([+-]?)\s*({_MARK})?\s*([+-]?)\s*({number})\s*({_MARK})?$"


@dataclass
class ParsedAmount:
    value: ir.FloatingValue  # float64, NULL when unreadable
    mark: ir.StringValue  # currency mark found next to the number, NULL if none
    missing: ir.BooleanValue
    non_finite: ir.BooleanValue
    unreadable: ir.BooleanValue


def plain_number(s: ir.StringValue, backend: str) -> ir.BooleanValue:
    """Whether the engine's own cast may read ``s``: it must accept only the documented forms.

    Each engine's cast also takes forms no export writes: DuckDB reads ``1_000`` and ``+-1``,
    Spark (Java) ``1.5d``, ``2f`` and hex floats such as ``0x1p3``. Those go to the regex path,
    which refuses them. DuckDB's two extras are ruled out by two cheap tests; elsewhere one
    character class does it."""
    if backend == "duckdb":
        return ~s.contains("_") & ~s.startswith("+-")
    return ~s.re_search(r"[^0-9.eE+-]")


def amount_direct(s: ir.StringValue, decimal: str = ".", backend: str = "duckdb"
                  ) -> ir.FloatingValue:
    """The engine's cast of a plain number (NULL for anything else).

    Plain numbers are cast directly; the regexes of :func:`parse_amount_text` run only on
    the rest (they cost far more than a cast). Used several times there: a caller may compute
    it in a projection of its own and pass it in, so the SQL holds it once."""
    import ibis

    if decimal != ".":
        return ibis.null("float64")
    return ibis.cases((plain_number(s, backend), s.try_cast("float64")),
                      else_=ibis.null("float64"))


def parse_amount_text(raw: ir.StringValue, thousands: str = ",",
                      decimal: str = ".", backend: str = "duckdb",
                      direct: ir.FloatingValue | None = None) -> ParsedAmount:
    """Read "¥1,280.00", "￥35.50", "-12.5", "1 280,00 €" (with thousands=" ", decimal=",")."""
    import ibis

    s = raw  # callers trim once, in a projection of its own (see quality.parse_fields)
    if direct is None:
        direct = amount_direct(s, decimal, backend)
    plain = direct.notnull()
    pattern = amount_pattern(thousands, decimal)

    def slow(expr: Any, null: str) -> Any:
        return ibis.cases((plain, ibis.null(null)), else_=expr)

    before, after = s.re_extract(pattern, 1), s.re_extract(pattern, 3)
    sign = ibis.cases(((before == "-") | (after == "-"), "-"), else_="")
    number = s.re_extract(pattern, 4)
    if thousands:
        number = number.replace(thousands, "")
    if decimal != ".":
        number = number.replace(decimal, ".")
    # a sign on either side of the mark ("-¥5", "¥-5"), never on both ("+-5")
    matched = slow(s.re_search(pattern) & ((before == "") | (after == "")),
                   "boolean").fill_null(False)
    parsed = ibis.cases((matched, (sign + number).try_cast("float64")),
                        else_=ibis.null("float64"))
    mark = ibis.coalesce(s.re_extract(pattern, 2).nullif(""), s.re_extract(pattern, 5).nullif(""))
    non_finite = ibis.cases((plain, direct.isnan() | direct.isinf()),
                            else_=s.re_search(_NON_FINITE)).fill_null(False)
    value = ibis.cases((non_finite, ibis.null("float64")), (plain, direct), else_=parsed)
    missing = s.isnull() | (s == "")
    unreadable = ~missing & ~non_finite & value.isnull()
    return ParsedAmount(value, ibis.cases((matched, mark), else_=ibis.null("string")),
                        missing, non_finite, unreadable)


def parse_amount_number(col: ir.NumericValue) -> ParsedAmount:
    """Amounts already typed by the source (Parquet, SQL, JSON numbers)."""
    import ibis

    value = col.cast("float64")
    if col.type().is_floating():
        non_finite = (col.isnan() | col.isinf()).fill_null(False)
        value = ibis.cases((non_finite, ibis.null("float64")), else_=value)
    else:
        non_finite = ibis.literal(False)
    return ParsedAmount(value, ibis.null("string"), col.isnull(), non_finite, ibis.literal(False))


_TIME = r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?"
_ZONE = r"\s*(Z|[+-]\d{2}:?\d{2})?"
SEPARATED = rf"^(\d{{1,4}})[-/.年](\d{{1,2}})[-/.月](\d{{1,4}})日?{_TIME}{_ZONE}$"
COMPACT = r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2}):?(\d{2}):?(\d{2}))?" + _ZONE + "$"


def _group(s: ir.StringValue, pattern: str, i: int) -> ir.StringValue:
    return s.re_extract(pattern, i).nullif("")


def _iso(y: Any, m: Any, d: Any, hh: Any, mm: Any, ss: Any, frac: Any) -> ir.StringValue:
    import ibis

    def two(v: Any) -> Any:
        return v.fill_null("0").lpad(2, "0")

    # DuckDB reads hour 24 as midnight of the next day, Spark refuses it: refuse it on both
    year_ok = (y.length() == 4) & (two(hh) <= "23")
    text = (y + "-" + two(m) + "-" + two(d) + " " + two(hh) + ":" + two(mm) + ":" + two(ss)
            + frac.fill_null(""))
    return ibis.cases((year_ok, text), else_=ibis.null("string"))


def _offset_seconds(zone: ir.StringValue) -> ir.IntegerValue:
    import ibis

    digits = zone.replace(":", "")
    hours = digits.substr(1, 2).try_cast("int64")
    minutes = digits.substr(3, 2).try_cast("int64")
    magnitude = hours * 3600 + minutes * 60
    return ibis.cases((zone.isnull(), ibis.null("int64")), (zone == "Z", 0),
                      (zone.startswith("-"), -magnitude), else_=magnitude)


@dataclass
class ParsedTimestamp:
    local: ir.TimestampValue  # clock time as written, NULL when unreadable
    offset_seconds: ir.IntegerValue  # explicit UTC offset, NULL when none was written


def parse_timestamp_text(raw: ir.StringValue, date_order: str = "ymd") -> ParsedTimestamp:
    """Read 2026-03-01, 2026/3/1, 20260301, 2026年3月1日, with or without a time and offset."""
    parts = timestamp_parts(raw, date_order)
    return timestamp_from_parts(parts["direct"], parts["slow"], parts["zone"])


def _iso_direct(s: ir.StringValue, backend: str) -> ir.TimestampValue:
    """The engine's reading of the documented ISO shapes, NULL for any other text.

    Only the exact documented shapes (date; date and HH:MM, HH:MM:SS, or HH:MM:SS.fraction;
    nothing that may carry an offset or zone): each engine's cast reads others too, and
    differently (DuckDB: hour 24 as the next day, a trailing " UTC", "+01" ignored; Spark:
    "2026-03-01 10", "2026"). DuckDB reads them with one native call per shape; elsewhere the
    shape is tested character by character before the cast."""
    import ibis

    if backend == "duckdb":
        from tiers.plugins.sources.functions import duckdb_iso_timestamp

        return duckdb_iso_timestamp(s)
    n = s.length()
    # offsets and zones can only hide after a fraction of a second: the fixed shapes put a
    # digit or ':' at every other place, which the cast checks
    zone_free = ibis.cases((n >= 21, ~s.substr(20).re_search("[^0-9]")), else_=True)
    # a four-digit year: the cast would also read a sign in front ("-000-01-01" as 1 BC)
    first = s.substr(0, 1)
    # the hour's two digits: DuckDB's cast would also skip a space after the "T"
    hour = [s.substr(11, 1), s.substr(12, 1)]
    iso_like = ((s.substr(4, 1) == "-") & (s.substr(7, 1) == "-")
                & (first >= "0") & (first <= "9")
                # comparisons, not isin: DuckDB runs `length(s) IN (...)` many times slower
                & ((n == 10) | (n == 16) | (n == 19) | ((n >= 21) & (n <= 26)))
                & ((n == 10) | ((s.substr(13, 1) == ":")
                                & ((s.substr(10, 1) == " ") | (s.substr(10, 1) == "T"))
                                & (hour[0] >= "0") & (hour[1] >= "0") & (hour[1] <= "9")
                                & (s.substr(11, 2) <= "23")))
                & ((n <= 16) | (s.substr(16, 1) == ":"))
                & ((n <= 19) | (s.substr(19, 1) == "."))
                & zone_free)
    return ibis.cases((iso_like, s.try_cast("timestamp")), else_=ibis.null("timestamp"))


def timestamp_parts(raw: ir.StringValue, date_order: str = "ymd", backend: str = "duckdb"
                    ) -> dict[str, Any]:
    """The three readings of a timestamp text, each used several times by
    :func:`timestamp_from_parts`: computed in a projection of their own, each is written out
    once in the SQL instead of wherever it is used (see quality.parse_fields).

    ``direct``: the engine's cast of the documented ISO shapes (NULL otherwise); ``slow``: the
    regex readings of the other layouts; ``zone``: the offset written after them."""
    import ibis

    s = raw  # callers trim once, in a projection of its own (see quality.parse_fields)
    # the common ISO shapes are read directly: far cheaper than ten regexes, which run only
    # where that reading failed
    direct = _iso_direct(s, backend)
    g = [_group(s, SEPARATED, i) for i in range(1, 9)]
    first, second, third = g[0], g[1], g[2]
    y, m, d = {"ymd": (first, second, third), "dmy": (third, second, first),
               "mdy": (third, first, second)}[date_order]
    separated = _iso(y, m, d, g[3], g[4], g[5], g[6]).try_cast("timestamp")
    c = [_group(s, COMPACT, i) for i in range(1, 8)]
    compact = _iso(c[0], c[1], c[2], c[3], c[4], c[5], ibis.null("string")).try_cast("timestamp")
    # the regexes run only where the cast did not read the text (a CASE branch is evaluated
    # only for its rows)
    slow = direct.isnull()
    return {"direct": direct,
            "slow": ibis.cases((slow, ibis.coalesce(separated, compact)),
                               else_=ibis.null("timestamp")),
            "zone": ibis.cases((slow, ibis.coalesce(g[7], c[6])), else_=ibis.null("string"))}


def timestamp_from_parts(direct: ir.TimestampValue, slow: ir.TimestampValue,
                         zone: ir.StringValue) -> ParsedTimestamp:
    import ibis

    fast = direct.notnull()
    local = ibis.cases((fast, direct), else_=slow)
    written = ibis.cases((fast, ibis.null("string")), else_=zone)
    return ParsedTimestamp(local, _offset_seconds(written))


def normalise_timestamp(parsed: ParsedTimestamp, timezone: str | None,
                        file_timezone: str | None, backend: str) -> ir.TimestampValue:
    """Express every value as naive clock time in ``timezone`` (UTC if unset when offsets are
    written; as written otherwise)."""
    import ibis

    from tiers.plugins.sources.zones import utc_to_zone, zone_to_utc

    local, offset = parsed.local, parsed.offset_seconds
    target = timezone or "UTC"
    utc_from_offset = local - offset.fill_null(0).as_interval("s")
    with_offset = (utc_from_offset if target == "UTC"
                   else utc_to_zone(utc_from_offset, target, backend))
    source_zone = file_timezone or timezone
    if source_zone and timezone and source_zone != timezone:
        utc = local if source_zone == "UTC" else zone_to_utc(local, source_zone, backend)
        without_offset = utc if timezone == "UTC" else utc_to_zone(utc, timezone, backend)
    elif source_zone and not timezone and source_zone != "UTC":
        without_offset = zone_to_utc(local, source_zone, backend)
    else:
        without_offset = local
    return ibis.cases((offset.isnull(), without_offset), else_=with_offset)
