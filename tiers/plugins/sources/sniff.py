"""Look at the start of a file before reading it: what it is, its encoding, its header."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

HEAD_BYTES = 256 * 1024
# The engines read these themselves; anything else is decoded with pyarrow first.
ENGINE_ENCODINGS = ("utf-8", "utf-8-sig")
# Magic numbers of files people export by mistake instead of CSV, and what to do instead.
NOT_CSV: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "a Parquet file; use `type: parquet`"),
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx); save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls); save the sheet as CSV"),
    (b"%PDF", "a PDF document; export the data as CSV"),
    (b"\x1f\x8b", "a gzip archive; unpack it first"),
    (b"SQLite format 3", "an SQLite database; use `type: sql`"),
)


class SniffError(ValueError):
    """The file is not CSV text we can read; the message says what it is and what to do."""


@dataclass
class Sniffed:
    encoding: str
    header: list[str]
    has_rows: bool


def _normal(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8-sig" else name


def detect_encoding(head: bytes) -> str:
    """utf-8-sig (BOM), utf-16 (BOM), utf-8, else gb18030 (a superset of GBK)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    first_bad = 0
    for candidate in ("utf-8", "gb18030"):
        try:
            # final=False: the head may end inside a multi-byte character
            codecs.getincrementaldecoder(candidate)().decode(head, final=False)
            return candidate
        except UnicodeDecodeError as exc:
            first_bad = first_bad or exc.start
    raise SniffError(f"is neither UTF-8 nor GBK/GB18030 text (line {line_of(head, first_bad)} "
                     f"has byte 0x{head[first_bad]:02x}); set `encoding:` to the file's "
                     "encoding (e.g. latin-1, cp1252, big5, shift_jis)")


def line_of(data: bytes, offset: int) -> int:
    """1-based line of the byte at ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def sniff(path: str, encoding: str = "auto", delimiter: str = ",", quote: str = '"') -> Sniffed:
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head:
        raise SniffError("is empty (0 bytes); export the data again, with a header row")
    for magic, what in NOT_CSV:
        if head.startswith(magic):
            raise SniffError(f"is not CSV but {what}")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        line = line_of(head, head.index(b"\x00"))
        raise SniffError(f"is binary, not CSV text (a NUL byte on line {line}); export the data "
                         "as CSV")
    if encoding == "auto":
        encoding = detect_encoding(head)
    else:
        try:
            encoding = _normal(encoding)
        except LookupError:
            raise SniffError(f"names an unknown encoding {encoding!r}; use e.g. utf-8, gbk, "
                             "gb18030") from None
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise SniffError(f"cannot be decoded as {encoding} (line {line_of(head, exc.start)} has "
                         f"byte 0x{head[exc.start]:02x}); set `encoding:` to the file's real "
                         "encoding or leave it as auto") from None
    text = text.lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped[:1] in ("<", "{", "["):
        kind = "HTML/XML" if stripped.startswith("<") else "JSON"
        raise SniffError(f"looks like {kind}, not CSV; export the data as CSV "
                         "(or use `type: api` for a JSON endpoint)")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote or None)
    header = next(reader, [])
    if not any(h.strip() for h in header):
        raise SniffError("has no header row; the first line must name the columns")
    has_rows = any(any(cell.strip() for cell in row) for row in _rows(reader))
    return Sniffed(encoding, [h.strip() for h in header], has_rows)


def _rows(reader: Iterator[list[str]], limit: int = 20) -> list[list[str]]:
    rows = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        rows.append(["?"])  # broken quoting: there is a row; the engine will say more
    return rows
