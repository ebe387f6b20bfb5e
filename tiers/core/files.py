"""Writing files: atomically (a failed write leaves no half file), with the mode the user's
umask gives. Every file tiers writes goes through here; actions use it too."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tiers.core.errors import TiersError

if TYPE_CHECKING:
    import pyarrow as pa


def write_table(table: pa.Table, path: Path) -> None:
    """Write CSV or Parquet by suffix, atomically: a failed write leaves no half file."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise TiersError(f"--out {path}: unsupported file type {suffix!r}; use .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
