"""Writing files: atomically (a failed write leaves no half file), with the mode the user's
umask gives, as `open()` would (0644 under umask 022, 0640 under 027). Every file tiers
writes goes through here: reports, --out files, coupon exports, the schema, e-mail outboxes.

A temporary file from :func:`tempfile.mkstemp` is private (0600) so that nobody reads it half
written; it gets its final mode just before it replaces the target."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tiers.core.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

_UMASK_LOCK = threading.Lock()


def umask() -> int:
    """The process umask (reading it means setting it, hence the lock)."""
    with _UMASK_LOCK:
        current = os.umask(0o077)
        os.umask(current)
    return current


def file_mode() -> int:
    """The mode a new file gets from the umask."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode a new folder gets from the umask."""
    return 0o777 & ~umask()


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place with
    the umask's mode. On any error the target is untouched and the temporary file is gone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes atomically."""
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def publish_dir(tmp: Path, target: Path) -> None:
    """Move a folder made with :func:`tempfile.mkdtemp` (private, 0700) into place with the
    umask's mode."""
    os.chmod(tmp, dir_mode())
    os.replace(tmp, target)


def write_table(table: pa.Table, path: Path) -> None:
    """Write CSV or Parquet by suffix, atomically: a failed write leaves no half file."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"--out {path}: unsupported file type {suffix!r}; use .csv or .parquet")
    if suffix == ".csv":
        write_atomic(path, lambda tmp: pacsv.write_csv(table, str(tmp)))
    else:
        write_atomic(path, lambda tmp: pq.write_table(table, str(tmp)))
