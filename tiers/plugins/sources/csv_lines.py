"""Find the line that broke a CSV read, and say what is wrong with it and how to fix it.

The engines stop on a malformed line with messages that name the wrong line or none ("CSV
Error on Line: 1", "Binder Error: columns do not exist", "Malformed records are detected").
When a read fails, this walks the file once in Python (the failure path only; a clean load
never comes here) and reports the first line that is not valid CSV of the declared shape.
Line numbers are the file's own physical lines, as an editor shows them.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CHUNK = 4 << 20


@dataclass
class Finding:
    line: int
    problem: str
    fix: str

    def render(self, path: str) -> str:
        return f"could not read {path} as CSV: line {self.line} {self.problem}\n    fix: {self.fix}"


@dataclass
class Shape:
    """How the file should look: what the source was told, and its limits."""

    encoding: str
    delimiter: str = ","
    quote: str = '"'
    max_field_bytes: int = 1 << 20
    max_line_bytes: int = 2 << 20
    #: the engine reads one record per line (Spark): a quoted line break is an error
    one_line_records: bool = False


def diagnose(path: str, shape: Shape) -> Finding | None:
    """The first line of ``path`` that does not fit ``shape``, or None if every line does."""
    return _undecodable(path, shape.encoding) or _malformed(path, shape)


def _undecodable(path: str, encoding: str) -> Finding | None:
    """Bytes that are not text in ``encoding``. Decodes large blocks cut at a newline (the
    encodings read here never use the newline byte inside a character); UTF-16 and UTF-32
    are left to the CSV pass, which fails on them less precisely."""
    name = codecs.lookup(encoding).name
    if name.startswith(("utf-16", "utf-32")):
        return None
    decode_as = "utf-8" if name == "utf-8-sig" else name
    line = 1
    pending = b""
    with open(path, "rb") as fh:
        first = True
        while True:
            chunk = fh.read(CHUNK)
            data = pending + chunk
            if first and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
            first = False
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            block, pending = data[:cut], data[cut:]
            try:
                block.decode(decode_as)
            except UnicodeDecodeError as exc:
                where = line + block.count(b"\n", 0, exc.start)
                column = exc.start - (block.rfind(b"\n", 0, exc.start) + 1) + 1
                return Finding(
                    where, f"is not {_encoding_label(name)} text (byte 0x{block[exc.start]:02x} "
                    f"at column {column})",
                    "set `encoding:` to the file's real encoding (e.g. latin-1, cp1252, gbk, "
                    "shift_jis), or export the file again as UTF-8")
            line += block.count(b"\n")
            if not chunk:
                return None


def _encoding_label(name: str) -> str:
    return {"utf-8": "UTF-8", "gb18030": "GBK/GB18030"}.get(name, name)


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    previous = csv.field_size_limit()
    csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _malformed(path: str, shape: Shape) -> Finding | None:
    quoting = csv.QUOTE_MINIMAL if shape.quote else csv.QUOTE_NONE
    with _field_limit(shape.max_line_bytes), open(
            path, encoding=shape.encoding, newline="", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=shape.delimiter, quotechar=shape.quote or None,
                            quoting=quoting, strict=True)
        start = 1
        try:
            header = next(reader, [])
            start = reader.line_num + 1
            for row in reader:
                if row:  # a blank line is skipped by the engines too
                    found = _row_problem(row, header, start, reader.line_num, shape)
                    if found:
                        return found
                start = reader.line_num + 1
        except csv.Error as exc:
            return _parse_error(str(exc), path, start, reader.line_num, shape)
    return None


def _row_problem(row: list[str], header: list[str], start: int, end: int, shape: Shape
                 ) -> Finding | None:
    span = f" (the record runs over lines {start}-{end})" if end > start else ""
    open_quote = (f"a quote on line {start} is probably not closed, so the lines after it "
                  f"were read as one value; close it, or set `quote: ''` if the file does "
                  f"not quote values")
    if len(row) > len(header):
        return Finding(start, f"has {len(row)} fields, the header has {len(header)}{span}",
                       open_quote if span else
                       f"quote the values that contain `{shape.delimiter}` (e.g. "
                       f"\"1,280.00\"), or set `delimiter:` to the separator the file uses")
    if len(row) < len(header):
        return Finding(start, f"has {len(row)} field{'s' if len(row) != 1 else ''}, the header "
                       f"has {len(header)}{span}",
                       open_quote if span else
                       f"give every line {len(header)} fields (an empty value is still a "
                       f"field: `a,,c`), or set `delimiter:` to the separator the file uses")
    if span and shape.one_line_records:
        return Finding(start, f"holds a quoted value with a line break{span}; Spark reads one "
                              "record per line",
                       "remove the line breaks inside values (or replace them with a space), "
                       "or load this file with the DuckDB engine")
    for i, value in enumerate(row):
        if "\x00" in value:
            return Finding(start, f"holds NUL bytes in `{header[i]}`: binary data, not text",
                           "the file is damaged or has binary content pasted into it; "
                           "export it again")
    sizes = [_bytes(v, shape.encoding) for v in row]
    for i, size in enumerate(sizes):
        if size > shape.max_field_bytes:
            return _too_large(start, header[i], size, shape)
    if sum(sizes) > shape.max_line_bytes:
        return Finding(start, f"is {sum(sizes):,} bytes long, above the "
                              f"{shape.max_line_bytes:,} a line may hold",
                       "a line may hold twice `max_field_bytes`: raise `max_field_bytes` if "
                       "such lines are real, or shorten the long values")
    return None


def _bytes(value: str, encoding: str) -> int:
    return len(value) if value.isascii() else len(value.encode(encoding, errors="replace"))


def _too_large(line: int, column: str | None, size: int | None, shape: Shape) -> Finding:
    held = (f"{size:,} bytes in `{column}`" if size is not None
            else f"a value of more than {shape.max_line_bytes:,} bytes")
    return Finding(line, f"holds {held}, above the {shape.max_field_bytes:,} a field may hold",
                   "raise `max_field_bytes` if such values are real, or fix the export "
                   "(a value this long is often an unclosed quote or pasted binary data)")


def _parse_error(message: str, path: str, start: int, at: int, shape: Shape) -> Finding:
    if "field larger than field limit" in message or "unexpected end of data" in message:
        if _opens_a_quote(path, start, shape):
            where = "the end of the file" if "end of data" in message else f"line {at}"
            return Finding(start, f"opens a quoted value that is never closed (it runs to "
                                  f"{where})",
                           f"close the quote on line {start}, or set `quote: ''` if the file "
                           "does not quote values")
        return _too_large(start, None, None, shape)
    if "expected after" in message:
        return Finding(at, "has text right after a closing quote",
                       "inside a quoted value write a quote twice (\"\"), or set `quote: ''` "
                       "if the file does not quote values")
    return Finding(start, f"is not valid CSV ({message})",
                   "check `delimiter` and `quote`, and export the file again")


def _opens_a_quote(path: str, line: int, shape: Shape) -> bool:
    """Whether physical line ``line`` has an odd number of quote characters."""
    if not shape.quote:
        return False
    with open(path, encoding=shape.encoding, newline="", errors="replace") as fh:
        for number, text in enumerate(fh, 1):
            if number == line:
                return text.count(shape.quote) % 2 == 1
    return False
