"""From raw rows to usable rows: parse fields, reject what cannot be used, apply the duplicate
policy, write rejects aside and stop the run when too many rows are bad.

The whole check is one Ibis expression, materialised once (``cache``) so the counts, the
rejects file and the engine's later query all read the same rows without re-reading the input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError
from tiers.core.files import write_atomic
from tiers.core.outputs import would_write, writes_allowed
from tiers.core.sqltext import quote
from tiers.plugins.sources.options import (
    DATE_FIELDS,
    EARLIEST,
    ID_FIELDS,
    LATEST,
    REQUIRED,
    TIMESTAMP_FIELDS,
    TableOptions,
)
from tiers.plugins.sources.redact import known, redact_text

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.core.interfaces import Context
    from tiers.plugins.sources.statistics import Extremes

FILE = "_tiers_file"
LINE = "_tiers_line"
REJECT = "_tiers_reject"
# prefix of a key's int64 form, kept beside its text when the data holds numbers
INT_KEY = "_tiers_int_"
# Per text id, whether the value needed work (trimming or normalising): a typed load whose
# ids never do is read the second time without that work (see check_rows).
FIX_KEY = "_tiers_fix_"
INVALID = "_tiers_invalid"
# Outcomes of a declared duplicate policy: written aside and reported, but not errors.
HANDLED = ("duplicate_row_dropped", "duplicate_order_id_dropped", "duplicate_order_id_summed",
           "duplicate_customer_id_dropped")
# The replacement character: what an engine makes of bytes that are not text in the file's
# encoding (Spark does so silently).
REPLACEMENT = "\ufffd"
# Secrets at least this long are also masked inside the rejected rows' values.
MIN_ECHOED_SECRET = 6
# The fields parse_fields reads and may reject a row for; other columns pass as they are.
PARSED = (*ID_FIELDS, "amount", "currency", *TIMESTAMP_FIELDS, *DATE_FIELDS)
# Dates this far past the later of as-of and now (to the hour) cannot be real.
FUTURE_TOLERANCE = dt.timedelta(days=1)


def _this_hour() -> dt.datetime:
    """Now, rounded up to the hour: the bound stays the same for an hour, and so do the
    parse graph and its compiled SQL (tiers.engine.sqlcache)."""
    now = dt.datetime.now()
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


class SourceError(DataError):
    """A source could not be read at all (missing file, not CSV, HTTP 401, bad SQL...)."""


class RejectsError(DataError):
    """Too many rows could not be used; they are listed in the rejects file."""


@dataclass
class LoadReport:
    """What a source loaded and what it set aside, for the run summary."""

    table: str
    origins: list[str]
    rows_read: int = 0
    rows_loaded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    handled: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    #: other things the run should know, e.g. credentials withheld from another origin
    notes: list[str] = field(default_factory=list)
    #: the customer ids were taken as they are, before anything showed that none needs
    #: trimming or normalising: the caller that asked for this (RowCheck.defer_ids) tests them
    ids_unconfirmed: bool = False

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        text = f"{self.table}: {self.rows_loaded:,} of {self.rows_read:,} rows loaded"
        parts = []
        if self.rejected:
            parts.append(f"{self.rejected_total:,} rejected ({_counts(self.rejected)})")
        parts += [f"{reason.replace('_', ' ')}: {n:,}" for reason, n in self.handled.items()]
        parts += self.notes
        if parts:
            text += "; " + "; ".join(parts)
        if self.rejects_file:
            text += f"; see {self.rejects_file}"
        return text


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in sorted(counts.items(),
                                                               key=lambda kv: -kv[1]))


@dataclass
class RowCheck:
    """Everything :func:`check_rows` needs besides the rows."""

    options: TableOptions
    role: str
    label: str  # how messages name this source, e.g. "sources.orders (orders.csv)"
    context: Context
    origins: list[str]  # _tiers_file index -> file name or URL
    backend: str = "duckdb"
    extra_reasons: list[tuple[Any, str]] = field(default_factory=list)
    con: Any = None  # the engine's backend, to fetch results without pandas
    #: load only these customers' rows (explain, simulate): a read that writes no rejects
    #: file and judges no reject share, since it sees a part of the data
    only: Sequence[str] | None = None
    #: keep a copy of the parsed rows (text formats, whose reading and parsing cost more than
    #: a copy); typed formats are read again in each query instead
    stored: bool = True
    #: reject text fields longer than this many bytes (``field_too_large``); None: no limit
    max_field_bytes: int | None = None
    #: reject rows whose text holds NUL or U+FFFD (``binary_content``): for files read as text
    binary_check: bool = False
    #: turns an engine error while reading into a message naming the line and the fix
    explain_read_error: Callable[[Exception], str | None] | None = None
    #: values never to write into a file (credentials in page URLs, echoed tokens)
    secrets: list[str] = field(default_factory=list)
    #: the caller tests the distinct customer ids itself (see ids_need_work): a load the
    #: statistics prove may then take them as they are, without a pass over every row for
    #: ids to trim or normalise (``LoadReport.ids_unconfirmed`` says it did)
    defer_ids: bool = False
    #: the least and greatest value of raw columns, from the data's own statistics
    #: (Parquet footers), or None when some are unknown; see tiers.plugins.sources.statistics
    extremes: Callable[[list[str]], Extremes | None] | None = None


def map_columns(raw: ir.Table, check: RowCheck) -> ir.Table:
    """Rename the data's own headers to tiers fields; name what is missing and how to fix it."""
    options = check.options
    data_columns = [c for c in raw.columns if not c.startswith("_tiers_")]
    for fld, column in options.columns.items():
        if column not in raw.columns:
            from tiers.core.errors import did_you_mean

            raise SourceError(
                f"{check.label}: column {column!r} (mapped to {fld}) is not in the data\n"
                f"    fix: {did_you_mean(column, data_columns)}set `columns: {{{fld}: ...}}` "
                f"to one of: {', '.join(data_columns)}")
    renames = {f: c for f, c in options.columns.items() if f != c}
    clashing = [f for f in renames if f in raw.columns and f not in renames.values()]
    if clashing:
        raw = raw.drop(*clashing)  # an unmapped column that happens to bear a field's name
    table = raw.rename(renames) if renames else raw
    missing = [f for f in REQUIRED.get(check.role, ()) if f not in table.columns]
    if missing:
        raise SourceError(
            f"{check.label}: the {check.role} table needs {', '.join(missing)}; "
            f"the data has: {', '.join(data_columns)}\n"
            f"    fix: map them, e.g. `columns: {{{missing[0]}: <column in the data>}}`")
    return table


def _integral(col: ir.Value) -> bool:
    """Whether ``_text`` writes this column from an int64 reading of it."""
    dtype = col.type()
    return dtype.is_integer() or dtype.is_floating()


def _text(col: ir.Value) -> ir.StringValue:
    if col.type().is_string():
        return col  # trimmed already, see parse_fields
    if col.type().is_floating():
        # ids stored as floats by spreadsheets: 1001.0 -> "1001"
        return col.try_cast("int64").cast("string")
    return col.cast("string")


def _needs_work(raw: ir.StringValue, odd: ir.BooleanValue, trimmed: ir.StringValue,
                backend: str) -> ir.BooleanValue:
    """Whether an id changes when it is made plain: it is not ASCII (``odd``), or trimming
    changed its length (a length DuckDB keeps with the text: no scan)."""
    from tiers.plugins.sources.functions import byte_length

    return odd | (byte_length(trimmed, backend) != byte_length(raw, backend))


def ids_need_work(con: Any, ids: ir.StringColumn, backend: str) -> bool:
    """Whether any of ``ids`` (raw text) needs trimming or normalising: the test a load left
    to its caller (``RowCheck.defer_ids``), run over the distinct ids the caller has anyway."""
    from tiers import compile_sql
    from tiers.plugins.sources.functions import odd_id
    from tiers.plugins.sources.parsing import trimmed

    test = _needs_work(ids, odd_id(ids, backend), trimmed(ids), backend).any()
    found = con.raw_sql(compile_sql(con, test.name("work"))).fetchone()
    return bool(found and found[0])


def parse_fields(table: ir.Table, check: RowCheck, as_of: dt.datetime | None,
                 proven_clean: bool = False) -> ir.Table:
    """Parse well-known fields in place and name why each unusable row is rejected.

    ``proven_clean``: a first pass over the same rows found every one usable and no text id
    needing trimming or normalising; the ids are then taken as they are and no reason is
    computed (the values are the same, for less work on every later read).

    Three projections: trimmed text; every parse result (value and flags) as a column of its
    own; then the reasons and final values, which refer to those columns. The reasons are one
    CASE, and an engine does not share work between the branches of a CASE: written directly
    over the parsing expressions, each branch would parse the value again.
    """
    import ibis

    from tiers.plugins.sources.functions import byte_length, normalise_id, nul, odd_id
    from tiers.plugins.sources.parsing import (
        allowed_marks,
        amount_direct,
        normalise_timestamp,
        parse_amount_number,
        parse_amount_text,
        timestamp_from_parts,
        timestamp_parts,
        trimmed,
    )

    options = check.options
    text_fields = [n for n in PARSED
                   if n in table.columns and table[n].type().is_string()]
    string_ids = [] if proven_clean else [n for n in ID_FIELDS if n in text_fields]
    if proven_clean:
        text_fields = [n for n in text_fields if n not in ID_FIELDS]
    raw_ids = {n: f"_tiers_raw_{n}" for n in string_ids}
    odd = {n: f"_tiers_odd_{n}" for n in string_ids}
    text_times = [n for n in (*TIMESTAMP_FIELDS, *DATE_FIELDS) if n in text_fields]
    text_amount = "amount" in text_fields
    # Only text dates and amounts make expressions large enough to be worth a projection of
    # their own, and only a parse computed once, whole, into a stored table may be fenced:
    # DuckDB plans around a volatile call as around a wall, so a view read again by every
    # later query, or a read of a few customers' rows, would lose the filters and pruning it
    # pushes down (the retail ruleset at 1M orders on Parquet ran 3x slower with them).
    fenced = check.stored and check.only is None and bool(text_times or text_amount)
    fence = _fence(check.backend) if fenced else {}
    if text_fields:
        # the raw id is kept for the normaliser, which also trims Unicode spaces
        table = table.mutate(**{n: trimmed(table[n]) for n in text_fields},
                             **{raw_ids[n]: table[n] for n in string_ids},
                             **{odd[n]: odd_id(table[n], check.backend) for n in string_ids},
                             **fence)
    # the readings of each timestamp text, in a projection of their own: each is used
    # several times by the value and its reasons
    parts = {n: {k: f"_tiers_ts_{k}_{n}" for k in ("direct", "slow", "zone")}
             for n in text_times}
    readings = {parts[n][k]: e for n in text_times
                for k, e in timestamp_parts(table[n], options.date_order,
                                             check.backend).items()}
    if text_amount:
        readings[DIRECT_AMOUNT] = amount_direct(table.amount, options.decimal, check.backend)
    if readings:
        table = table.mutate(**readings, **fence)
    stage: dict[str, Any] = {}

    def staged(name: str, expr: Any) -> str:
        column = f"_tiers_p_{name}"
        stage[column] = expr
        return column

    # (reason, label) pairs and final values, as functions of the staged table
    later: list[tuple[Callable[[ir.Table], Any], Any]] = []
    values: dict[str, Callable[[ir.Table], Any]] = {}
    required = REQUIRED.get(check.role, ())

    strings = [c for c in table.columns
               if not c.startswith("_tiers_") and table[c].type().is_string()]
    if check.max_field_bytes is not None and strings:
        limit_bytes = check.max_field_bytes
        too_large = staged("field_too_large", ibis.or_(
            *[byte_length(table[c], check.backend) > limit_bytes for c in strings]))
        later.append((lambda t, c=too_large: t[c], "field_too_large"))
    if check.binary_check and strings:
        zero = nul(check.backend)

        def binary(col: Any) -> Any:
            return col.contains(zero) | col.contains(REPLACEMENT)

        # ids: only non-ASCII ones can hold U+FFFD; amounts and dates holding either do not
        # parse
        flags = [table[raw_ids[n]].contains(zero)
                 | (table[odd[n]] & table[raw_ids[n]].contains(REPLACEMENT))
                 for n in string_ids]
        flags += [binary(table[c]) for c in strings if c not in text_fields]
        if flags:
            flag = staged("binary_content", ibis.or_(*flags))
            later.append((lambda t, c=flag: t[c], "binary_content"))

    for name in ID_FIELDS:
        if name in table.columns:
            if name in string_ids:
                value = normalise_id(table[raw_ids[name]], table[odd[name]], table[name],
                                     check.backend)
                if check.backend == "duckdb" and not check.stored:
                    fix = staged(f"fix_{name}", _needs_work(
                        table[raw_ids[name]], table[odd[name]], table[name], check.backend))
                    values[FIX_KEY + name] = lambda t, c=fix: t[c]
            elif proven_clean and table[name].type().is_string():
                value = table[name]
            else:
                value = _text(table[name])
                if check.backend == "duckdb" and _integral(table[name]):
                    # the number the text was written from: its distinct count is the
                    # duplicate check's cheap form (see _first_pass_sql)
                    whole = staged(f"int_{name}", table[name].try_cast("int64"))
                    values[INT_KEY + name] = lambda t, c=whole: t[c]
            # proven clean: no id is empty, and NULLIF costs a copy of every id
            text = staged(name, value if proven_clean else value.nullif(""))
            values[name] = lambda t, c=text: t[c]
            if name == "customer_id":
                later.append((lambda t, c=text: t[c].isnull(), "missing_customer_id"))

    if "amount" in table.columns:
        col = table.amount
        parsed = (parse_amount_text(col, options.thousands, options.decimal, check.backend,
                                    table[DIRECT_AMOUNT])
                  if col.type().is_string() else parse_amount_number(col))
        decimal = f"decimal(18, {options.amount_scale})"
        value = staged("amount", parsed.value)
        for flag, label in ((parsed.missing, "missing_amount"),
                            (parsed.non_finite, "non_finite_amount"),
                            (parsed.unreadable, "unparseable_amount")):
            flag_col = staged(label, flag)
            later.append((lambda t, c=flag_col: t[c], label))
        marks = allowed_marks(check.context.ruleset.currency)
        if marks is not None:
            mark = staged("amount_mark", parsed.mark)
            later.append((lambda t, c=mark: t[c].notnull() & ~t[c].isin(sorted(marks)),
                          "unknown_currency"))
        limit = options.max_amount
        later.append((lambda t, c=value: t[c].abs() > limit, "amount_too_large"))
        if options.negative_amounts == "reject":
            later.append((lambda t, c=value: t[c] < 0, "negative_amount"))
        if not col.type().is_floating() and col.type().is_numeric():
            exact = staged("amount_exact", col.cast(decimal))
        else:
            exact = None

        def amount(t: ir.Table, c: str = value, e: str | None = exact) -> Any:
            source = t[e] if e is not None else t[c].cast(decimal)
            if proven_clean:  # no amount is too large: the test would cost every read
                return source
            return ibis.cases((t[c].abs() <= limit, source), else_=ibis.null(decimal))

        values["amount"] = amount

    if "currency" in table.columns and check.context.ruleset.currency:
        code = staged("currency", _text(table.currency).upper())
        ok = [check.context.ruleset.currency.upper()]
        later.append((lambda t, c=code: t[c].notnull() & (t[c] != "") & ~t[c].isin(ok),
                      "unknown_currency"))

    latest = max(as_of or dt.datetime.min, _this_hour()) + FUTURE_TOLERANCE
    for name in (*TIMESTAMP_FIELDS, *DATE_FIELDS):
        if name not in table.columns:
            continue
        col = table[name]
        is_date = name in DATE_FIELDS
        if col.type().is_string():
            empty = col.isnull() | (col == "")
            read = timestamp_from_parts(*[table[parts[name][k]]
                                          for k in ("direct", "slow", "zone")])
            ts = normalise_timestamp(read,
                                     None if is_date else options.timezone,
                                     None if is_date else options.file_timezone, check.backend)
        else:
            ts = _typed_timestamp(col, options, check.backend)
            empty = col.isnull()
        ts_col = staged(name, ts)
        empty_col = staged(f"{name}_empty", empty)
        if name in required:
            later.append((lambda t, c=empty_col: t[c], f"missing_{name}"))
        later.append((lambda t, c=ts_col, e=empty_col: ~t[e] & t[c].isnull(),
                      f"unparseable_{name}"))
        later.append((lambda t, c=ts_col: (t[c] < EARLIEST) | (t[c] >= LATEST),
                      f"out_of_range_{name}"))
        if not is_date and not options.allow_future:
            later.append((lambda t, c=ts_col: t[c] > latest, f"future_{name}"))
        values[name] = (lambda t, c=ts_col: t[c].date()) if is_date else (
            lambda t, c=ts_col: t[c])

    staged_table = table.mutate(**stage, **fence) if stage else table
    reasons: list[tuple[Any, Any]] = list(check.extra_reasons)
    if INVALID in staged_table.columns:  # set by sources that validate records while reading
        reasons.append((staged_table[INVALID].notnull(), staged_table[INVALID]))
    reasons += [(f(staged_table), label) for f, label in later]
    if proven_clean:
        reasons = []
    out = staged_table.mutate(**{n: f(staged_table) for n, f in values.items()},
                              **{REJECT: _reason(reasons)})
    helpers = [*stage, *raw_ids.values(), *odd.values(),
               *[c for cols in parts.values() for c in cols.values()],
               *([DIRECT_AMOUNT] if text_amount else [])]
    helpers += [c for c in out.columns if c == FENCE]
    return out.drop(*helpers) if helpers else out


# The engine's cast of a plain amount, computed once (see parsing.amount_direct).
DIRECT_AMOUNT = "_tiers_amount_direct"
# A column that keeps a projection a query of its own (see _fence).
FENCE = "_tiers_fence"


def _fence(backend: str) -> dict[str, Any]:
    """A throwaway column that keeps Ibis from merging this projection into the next one.

    Ibis inlines every column of an inner SELECT into the outer one, so each staged parse
    result would be written out again wherever a reason or value uses it: the orders' parse
    became 80 KB of SQL, and compiling it and DuckDB binding it cost more than running it. An
    impure call (``random()``) is the one thing Ibis never merges across; DuckDB drops the
    unused column before running. Spark collapses projections itself and is checkpointed
    instead (see _materialise), so it gets none."""
    if backend != "duckdb":
        return {}
    import ibis

    return {FENCE: ibis.random()}


def _typed_timestamp(col: ir.Value, options: TableOptions, backend: str) -> ir.TimestampValue:
    from tiers.plugins.sources.zones import utc_to_zone, zone_to_utc

    dtype = col.type()
    if dtype.is_date():
        return col.cast("timestamp")
    if dtype.is_timestamp() and dtype.timezone:
        # an instant: express it as clock time in the ruleset's zone (UTC if none)
        naive = col.cast("timestamp") if backend == "pyspark" else col.cast(
            "timestamp('UTC')").cast("timestamp")
        return utc_to_zone(naive, options.timezone, backend) if options.timezone else naive
    if not dtype.is_timestamp():
        return col.cast("timestamp")
    source_zone = options.file_timezone or options.timezone
    if source_zone and source_zone != (options.timezone or "UTC"):
        utc = zone_to_utc(col, source_zone, backend)
        return utc_to_zone(utc, options.timezone, backend) if options.timezone else utc
    return col


def _reason(reasons: list[tuple[Any, Any]]) -> Any:
    import ibis

    if not reasons:
        return ibis.null("string")
    return ibis.cases(*[(cond.fill_null(False), r) for cond, r in reasons],
                      else_=ibis.null("string"))


def duplicate_keys(role: str, options: TableOptions, columns: list[str]) -> dict[str, str]:
    """Key column -> its duplicate policy: order ids in any table that has them, customer ids
    in the customers table (one row per customer, or customers are counted twice)."""
    keys: dict[str, str] = {}
    if "order_id" in columns:
        keys["order_id"] = options.duplicate_order_ids
    if role == "customers" and "customer_id" in columns:
        keys["customer_id"] = options.duplicate_customer_ids
    return keys


def apply_duplicates(table: ir.Table, options: TableOptions, data_columns: list[str],
                     role: str = "orders") -> ir.Table:
    """Mark duplicate rows among the usable ones according to the declared policy."""
    import ibis

    ok = table[REJECT].isnull()
    if options.duplicate_rows != "allow":
        w = ibis.window(group_by=[ok, *[table[c] for c in data_columns]],
                        order_by=[table[FILE], table[LINE]])
        copies = ibis.row_number().over(w)
        count = table.count().over(ibis.window(group_by=[ok, *[table[c] for c in data_columns]]))
        if options.duplicate_rows == "keep_first":
            mark = ok & (copies > 0)
            label = "duplicate_row_dropped"
        else:
            mark = ok & (count > 1)
            label = "duplicate_row"
        table = table.mutate(**{REJECT: ibis.cases((mark, label), else_=table[REJECT])})
    for key, policy in duplicate_keys(role, options, table.columns).items():
        if policy == "allow":
            continue
        ok = table[REJECT].isnull() & table[key].notnull()
        group = ibis.window(group_by=[ok, table[key]])
        first = ibis.row_number().over(ibis.window(group_by=[ok, table[key]],
                                                   order_by=[table[FILE], table[LINE]]))
        count = table.count().over(group)
        if policy == "reject":
            table = table.mutate(**{REJECT: ibis.cases((ok & (count > 1), f"duplicate_{key}"),
                                                       else_=table[REJECT])})
        else:
            label = f"duplicate_{key}_summed" if policy == "sum" else f"duplicate_{key}_dropped"
            changes = {REJECT: ibis.cases((ok & (first > 0), label), else_=table[REJECT])}
            if policy == "sum" and "amount" in table.columns:
                total = table.amount.sum().over(group)
                changes["amount"] = ibis.cases((ok & (count > 1), total.cast(table.amount.type())),
                                               else_=table.amount)
            table = table.mutate(**changes)
    return table


def check_rows(raw: ir.Table, check: RowCheck, as_of: dt.datetime | None = None
               ) -> tuple[ir.Table, LoadReport]:
    """Usable rows (lazy Ibis table with tiers' field types) and the load report.

    ``raw`` holds the data columns plus ``_tiers_file`` (index into ``check.origins``) and
    ``_tiers_line`` (line or record number to show in the rejects file).

    The parsed rows are computed once on the backend. Most loads are clean, so one aggregate
    pass over them counts reject reasons and tells whether duplicates are possible; only when
    something must be set aside are the duplicate windows applied, so counts, rejects file and
    engine all see the same rows.
    """
    mapped = map_columns(raw, check)
    data_columns = [c for c in mapped.columns if not c.startswith("_tiers_")]
    parsed = parse_fields(mapped, check, as_of)
    counts: dict[str | None, int] = {}
    settle = True  # rows to set aside, or duplicates possible
    ids_plain = False
    if check.only is not None and "customer_id" in parsed.columns:
        # before anything is computed, so the backend parses only these customers' rows
        parsed = parsed.filter(parsed.customer_id.isin(list(check.only)))
    with _read_errors(check):
        # the parsing expressions are compiled and run once; every later query (the checks,
        # the engine's) reads the parsed rows by name
        parsed = _materialise(check, parsed)
        if check.backend != "pyspark":
            proven = _proven(raw, mapped, check, as_of)
            # the customer ids are all the statistics leave open: their caller may test them
            deferred = (proven and check.defer_ids
                        and _fix_columns(parsed) == [FIX_KEY + "customer_id"])
            counts, settle, ids_plain = _first_pass(check, parsed, data_columns, proven,
                                                    deferred)
    checked = parsed
    if settle:
        table = apply_duplicates(parsed, check.options, data_columns, check.role)
        with _read_errors(check):
            checked = _materialise(check, table)
            counts = {row[REJECT]: row["n"] for row in
                      _arrow(check, checked.group_by(REJECT).aggregate(n=checked.count())
                             ).to_pylist()}
    total = sum(counts.values())
    set_aside = {r: n for r, n in counts.items() if r is not None}
    report = LoadReport(check.role, check.origins, rows_read=total,
                        rows_loaded=counts.get(None, 0),
                        rejected={r: n for r, n in set_aside.items() if r not in HANDLED},
                        handled={r: n for r, n in set_aside.items() if r in HANDLED})
    if check.only is not None:  # a part of the data: nothing to write or judge
        internal = [c for c in checked.columns if c.startswith("_tiers_")]
        return checked.filter(checked[REJECT].isnull()).drop(*internal), report
    if total == 0 and not check.options.allow_empty:
        raise SourceError(f"{check.label}: no rows to load\n"
                          "    fix: point the source at data with rows, or set "
                          "`allow_empty: true` if an empty table is expected")
    path = rejects_path(check)
    if set_aside and not writes_allowed():  # a dry run writes no file, it says what it would
        would_write(f"{sum(set_aside.values()):,} set-aside rows to {path}")
    elif set_aside:
        write_rejects(checked, mapped, check, data_columns, path)
        report.rejects_file = str(path)
    elif check.options.rejects is None and path.exists() and writes_allowed():
        path.unlink()  # a stale list from an earlier run would mislead
    share = report.rejected_total / total if total else 0.0
    if share > check.options.max_reject_share:
        listed = (f"Each is listed with its file and line in {path}" if writes_allowed() else
                  f"A run that is not a dry run lists each with its file and line in {path}")
        raise RejectsError(
            f"{check.label}: {report.rejected_total:,} of {total:,} rows ({share:.2%}) cannot "
            f"be used, above the {check.options.max_reject_share:.2%} allowed: "
            f"{_counts(report.rejected)}. {listed}\n"
            "    fix: correct those rows at the source or map the right columns; raise "
            "`max_reject_share` only if dropping them is acceptable")
    internal = [c for c in checked.columns if c.startswith("_tiers_")]
    if not set_aside:
        name = _named(check, checked)
        if name is not None:
            # the usable rows as a view named on the backend: the engine's later queries
            # start from it without compiling the projection
            view = f"{name}_usable"
            if ids_plain and not settle:
                # a typed load proven clean is read again, by each later query, without the
                # id normalising and the reasons (at 10M orders, a third of a query's time)
                usable = parse_fields(mapped, check, as_of, proven_clean=True)
                usable = usable.drop(*[c for c in usable.columns if c.startswith("_tiers_")])
                report.ids_unconfirmed = deferred
                return _view(check, view, usable), report
            check.con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {quote(view)} AS SELECT * EXCLUDE "
                              f"({', '.join(quote(c) for c in internal)}) FROM {quote(name)}")
            return check.con.table(view), report
        return checked.drop(*internal), report
    good = checked.filter(checked[REJECT].isnull()).drop(*internal)
    return good, report


def _proven(raw: ir.Table, mapped: ir.Table, check: RowCheck, as_of: dt.datetime | None
            ) -> bool:
    """Whether the data's statistics prove that no row is rejected, provided no text id
    needs trimming or normalising (the first pass checks that): the load's own parse finds
    no reason to reject rows made of each field's extremes (see
    tiers.plugins.sources.statistics for why that covers every row)."""
    options = check.options
    if (check.extremes is None or check.only is not None or check.backend != "duckdb"
            or check.extra_reasons or check.max_field_bytes is not None or check.binary_check
            or INVALID in raw.columns or options.timezone or options.file_timezone):
        return False
    fields = [f for f in PARSED if f in mapped.columns]
    for name in fields:
        dtype = mapped[name].type()
        # a stored load's first pass does not tell which text ids need work (FIX_KEY)
        if dtype.is_floating() or (dtype.is_string() and (name not in ID_FIELDS
                                                          or check.stored)):
            return False
    extremes = check.extremes(sorted({options.columns.get(f, f) for f in fields}))
    if extremes is None:
        return False
    from tiers import compile_sql
    from tiers.plugins.sources.statistics import probe_rows

    rows = probe_rows(check.con, raw, extremes)
    probe = parse_fields(map_columns(rows, check), check, as_of)
    probe = probe.aggregate(rejected=probe[REJECT].count())
    # no hooks to run: the parse's functions were registered with the data's own, just before
    return check.con.raw_sql(compile_sql(check.con, probe)).fetchone()[0] == 0


def _fix_columns(parsed: ir.Table) -> list[str]:
    return [c for c in parsed.columns if c.startswith(FIX_KEY)]


def _first_pass(check: RowCheck, parsed: ir.Table, data_columns: list[str],
                proven: bool = False, deferred: bool = False
                ) -> tuple[dict[str | None, int], bool, bool]:
    """Rows per reject reason; whether some must be set aside or may be duplicates (then
    the counts are taken again after the duplicate policy, and may be partial here); and
    whether the load's text ids are all plain (see :data:`FIX_KEY`; false when unknown).
    ``deferred``: the caller tests the ids (RowCheck.defer_ids); they count as plain here.

    Unique keys (order ids; customer ids in the customers table) among usable rows rule out
    both kinds of duplicate (identical rows share their key), which one distinct count per key
    settles. Without a key, the usable rows' distinct hashes are counted in the same scan,
    and only when they are fewer than the rows are the distinct rows themselves counted.
    """
    options = check.options
    ok = parsed[REJECT].isnull()
    metrics: dict[str, Any] = {"n": parsed.count()}
    keys = duplicate_keys(check.role, options, parsed.columns)
    enforced = [k for k, policy in keys.items() if policy != "allow"]
    check_rows_ = options.duplicate_rows != "allow"
    use_keys = bool(keys) and (bool(enforced) or check_rows_)
    if use_keys:
        for key in keys:
            metrics[f"ids_{key}"] = parsed[key].nunique(where=ok)
        metrics["id_rows"] = parsed.count(where=ok)
    plain = _named(check, parsed)
    ids_plain = False
    # without a key, identical rows are told apart by their count of distinct row hashes
    hashed = data_columns if plain is not None and not use_keys and check_rows_ else []
    if plain is not None:
        fixes = [] if deferred else _fix_columns(parsed)
        key_list = list(keys) if use_keys else []
        clean = _first_pass_sql(check, plain, key_list, fixes, hashed, proven)
        if proven and any(clean[c] for c in fixes):
            # a trimmed id may be empty, which statistics cannot tell: count the reasons
            clean = _first_pass_sql(check, plain, key_list, fixes, hashed)
        if clean["rows"] != clean["n"]:
            return {None: clean["n"]}, True, False
        counts: dict[str | None, int] = {None: clean["n"]}
        ids_plain = deferred or (bool(fixes) and not any(clean[c] for c in fixes))
    else:
        by_reason = _arrow(check, parsed.group_by(REJECT).aggregate(**metrics)).to_pylist()
        counts = {row[REJECT]: row["n"] for row in by_reason}
        if set(counts) - {None}:
            return counts, True, False
        if not by_reason:  # no rows at all
            return counts, False, False
        clean = by_reason[0]
    if use_keys:
        unique = {k: clean[f"ids_{k}"] == clean["id_rows"] for k in keys}
        repeated_key = any(not unique[k] for k in enforced)
        return counts, repeated_key or (check_rows_ and not any(unique.values())), ids_plain
    if not check_rows_:
        return counts, False, ids_plain
    if plain is not None:
        if clean["row_hashes"] == clean["n"]:  # no two usable rows alike (see above)
            return counts, False, ids_plain
        listed = ", ".join(quote(c) for c in data_columns)
        distinct = check.con.raw_sql(
            f"SELECT count(*) AS n FROM (SELECT DISTINCT {listed} FROM {quote(plain)} "
            f"WHERE {quote(REJECT)} IS NULL)").fetch_arrow_table().to_pylist()
        return counts, distinct[0]["n"] < clean["n"], ids_plain
    rows = parsed.filter(ok).select(*data_columns)
    distinct = _arrow(check, rows.distinct().aggregate(n=lambda t: t.count())).to_pylist()
    return counts, distinct[0]["n"] < clean["n"], ids_plain


def _named(check: RowCheck, table: ir.Table) -> str | None:
    """The DuckDB name of ``table`` when it is a stored table there (else None)."""
    import ibis.expr.operations as ops

    op = table.op()
    if getattr(check.con, "name", "") != "duckdb" or not isinstance(op, ops.DatabaseTable):
        return None
    return op.name


def _first_pass_sql(check: RowCheck, name: str, keys: list[str], fixes: Sequence[str] = (),
                    hashed: Sequence[str] = (), proven: bool = False) -> dict[str, Any]:
    """:func:`_first_pass`'s aggregate written directly, over the usable rows (``n``) and
    all rows (``rows``): a statement this small costs DuckDB nothing to plan, while Ibis
    would compile it like any other graph. No grouping by reason: most loads are clean, and
    one that is not is counted again after the duplicate policy.

    ``hashed``: columns whose usable rows' distinct 64-bit hashes are counted
    (``row_hashes``). Never more than the distinct rows, so as many as ``n`` proves no two
    alike; fewer (a repeat, or two rows whose hashes collide) calls for the exact DISTINCT.
    In this one scan it costs a fraction of that DISTINCT's own (2M survey rows: 0.27 s).

    ``proven``: no row is rejected (see :func:`_proven`), so no reason is computed: the
    engine leaves out what the statement does not read."""
    ok = "true" if proven else f"{quote(REJECT)} IS NULL"
    columns = ["count(*) AS rows", f"count(*) FILTER (WHERE {ok}) AS n"]
    if keys:
        columns += [f"{_distinct_ids(check, name, k, ok)} AS {quote('ids_' + k)}"
                    for k in keys]
        columns.append(f"count(*) FILTER (WHERE {ok}) AS id_rows")
    columns += [f"coalesce(bool_or({quote(c)}), false) AS {quote(c)}" for c in fixes]
    if hashed:
        listed = ", ".join(quote(c) for c in hashed)
        columns.append(f"count(DISTINCT hash({listed})) FILTER (WHERE {ok}) AS row_hashes")
    sql = f"SELECT {', '.join(columns)} FROM {quote(name)}"
    return check.con.raw_sql(sql).fetch_arrow_table().to_pylist()[0]


# Largest span of int64 ids marked in a bitmap: 32 MB a thread at most.
MAX_ID_SPAN = 1 << 28
# ... and at most this many bits per id, so sparse ids are not worth a bitmap.
MAX_BITS_PER_ID = 64


def _distinct_ids(check: RowCheck, name: str, key: str, ok: str) -> str:
    """An aggregate that counts at most as many values as there are distinct usable ``key``
    ids, and exactly as many when none repeats: as many as rows proves the ids unique, and
    anything less sends the load through the exact duplicate check, as a real repeat would.

    Ids the data holds as numbers are marked in a bitmap over their span (a tenth of the time
    of hashing 10M ids); other ids are counted as distinct 64-bit hashes, never more than the
    distinct ids, and several times cheaper than the text."""
    col = quote(key)
    whole = INT_KEY + key
    if whole in check.con.table(name).columns:
        low, high, count = check.con.raw_sql(
            f"SELECT min({quote(whole)}), max({quote(whole)}), count({quote(whole)}) "
            f"FROM {quote(name)}").fetchone()
        if count and high - low < min(MAX_ID_SPAN, MAX_BITS_PER_ID * count):
            # an id that has a text but no int64 form is left out of the count, so it cannot
            # pass for unique
            return (f"coalesce(bit_count(bitstring_agg({quote(whole)}, {low}, {high}) FILTER "
                    f"(WHERE {ok} AND {quote(whole)} IS NOT NULL)), 0)")
    return f"count(DISTINCT hash({col})) FILTER (WHERE {ok} AND {col} IS NOT NULL)"


@contextmanager
def _read_errors(check: RowCheck) -> Iterator[None]:
    """Engine errors while reading become a SourceError naming the source and what to check."""
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        detail = None
        if check.explain_read_error is not None:
            try:
                detail = check.explain_read_error(exc)
            except DataError:
                raise
            except Exception:  # the engine's own message below is still worth showing
                detail = None
        if detail:
            raise SourceError(f"{check.label}: {detail}") from None
        raise SourceError(
            f"{check.label}: the data could not be read: "
            f"{redact_text(_first_line(exc), check.secrets)}\n"
            "    fix: for CSV check `delimiter`, `quote` and `encoding`; for Parquet write the "
            "file again; for SQL check the query; `tiers validate` lists mapping problems"
            ) from None


def _view(check: RowCheck, name: str, table: ir.Table) -> ir.Table:
    """``table`` as a DuckDB view named ``name``, compiled once."""
    from tiers import compile_sql

    check.con._run_pre_execute_hooks(table)  # the functions it calls
    check.con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS "
                      f"{compile_sql(check.con, table)}")
    return check.con.table(name)


def _materialise(check: RowCheck, table: ir.Table) -> ir.Table:
    """Compute the checked rows once, on the engine's own backend (a table built from Arrow
    data has no backend of its own; Ibis' ``cache`` would put it on the default one)."""
    if check.con is None:
        return table.cache()
    from tiers import table_name

    if getattr(check.con, "name", "") == "duckdb":
        name = table_name(f"checked_{check.role}")
        # Compiled once, without Ibis' create_table: that wraps the query in an INSERT and
        # sqlglot deep-copies the parse graph's syntax tree twice on the way, which costs more
        # than compiling it. Typed formats are read again per query (a view; its functions and
        # in-memory tables must be known to the backend before it is named); text is parsed
        # once into a table.
        check.con._run_pre_execute_hooks(table)
        kind = "TABLE" if check.stored else "VIEW"
        from tiers import compile_sql

        check.con.raw_sql(f'CREATE TEMP {kind} "{name}" AS {compile_sql(check.con, table)}')
        return check.con.table(name)
    # Spark inlines a projection into every expression that uses it, and the parsing
    # expressions are large: left lazy, each later reference to a parsed column repeats them,
    # and the generated code outgrows what the JVM compiles. A local checkpoint cuts that.
    name = table_name(f"checked_{check.role}")
    from tiers import spark_frame

    frame = spark_frame(check.con, table).localCheckpoint(eager=True)
    frame.createOrReplaceTempView(name)
    return check.con.table(name)


def _arrow(check: RowCheck, expr: ir.Table) -> Any:
    if check.con is None:
        return expr.to_pyarrow()
    from tiers import to_arrow

    return to_arrow(check.con, expr)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def rejects_path(check: RowCheck) -> Path:
    if check.options.rejects:
        return check.context.resolve(check.options.rejects)
    name = check.context.ruleset.name
    return check.context.base_dir / "rejects" / f"{name}.{check.role}.csv"


def write_rejects(checked: ir.Table, mapped: ir.Table, check: RowCheck,
                  data_columns: list[str], path: Path) -> None:
    """Rejected rows as the data had them, with source, line and reason; written atomically.

    The values come from the input itself (joined back on file and line), so the list shows
    exactly what was read, not what parsing made of it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    keys = checked.filter(checked[REJECT].notnull()).select(FILE, LINE, REJECT)
    rows = keys.join(mapped, [FILE, LINE])
    columns = {name: rows[name].cast("string") for name in data_columns}
    out = _arrow(check, rows.select(rows[FILE], line=rows[LINE], reason=rows[REJECT], **columns)
                 .order_by([FILE, "line"]))
    names = pa.array(check.origins, pa.string())
    source = pc.take(names, pc.cast(out[FILE], pa.int32()))
    out = out.drop_columns([FILE]).add_column(0, "source", source)
    # an API may echo a token back inside its records; values too short to be a real key
    # ("tiers" as a test database's password) would only garble the data
    echoed = [s for s in check.secrets if len(s) >= MIN_ECHOED_SECRET]
    if echoed:
        out = pa.table([_redact_column(col, echoed) for col in out.columns],
                       names=out.column_names)
    write_atomic(path, lambda tmp: pacsv.write_csv(out, str(tmp)))


def _redact_column(col: Any, secrets: list[str]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(col.type):
        return col
    for secret in known(secrets):
        col = pc.replace_substring(col, secret, "***")
    return col
