"""Checking a file tiers is about to write, before anything is evaluated, recorded or sent,
and the dry-run gate every writer asks.

A run that can only fail at its last step (the output file) would have recorded its state and
carried out its actions already; so every output is checked up front by :func:`check_output`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path

from tiers.core import exits
from tiers.core.errors import TiersError

TABLE_SUFFIXES = (".csv", ".parquet")
#: folders of the operating system: never a place for tiers' files
SYSTEM_FOLDERS = ("/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32",
                  "/lib64", "/boot", "/var/lib", "/var/run", "/run")
GLOB_CHARS = "*?["


class OutputError(TiersError):
    """An output path that cannot or must not be written (exit 1, as any failed write)."""

    exit_code = exits.FAILED


class UnsupportedOutput(OutputError):
    """An output of a file type the command cannot write: a bad option value."""

    exit_code = exits.USAGE


def check_output(path: str | Path, inputs: Iterable[str | Path] = (), *,
                 suffixes: Iterable[str] | None = TABLE_SUFFIXES,
                 option: str = "--out") -> Path:
    """The resolved ``path`` if tiers may write it, else an :class:`OutputError` that names
    it and the fix. ``inputs`` are the files, folders and glob patterns the job reads: an
    output must never replace one of them."""
    given = Path(path).expanduser()
    target = given.resolve()
    label = f"{option} {given}"
    allowed = tuple(suffixes) if suffixes is not None else None
    if target.is_dir():
        raise OutputError(f"{label}: is a folder\n    fix: name a file inside it, e.g. "
                          f"{given / ('tiers' + (allowed[0] if allowed else '.out'))}")
    if allowed is not None and target.suffix.lower() not in allowed:
        raise UnsupportedOutput(f"{label}: unsupported file type {target.suffix or '(none)'!r}\n"
                          f"    fix: name a file ending in {' or '.join(allowed)}")
    for folder in SYSTEM_FOLDERS:
        if target == Path(folder) or Path(folder) in target.parents:
            raise OutputError(f"{label}: {folder} is a system folder, not a place for "
                              "tiers' files\n    fix: write into a folder of your own")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{label}: the file is not writable\n    fix: change its "
                          "permissions or write elsewhere")
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{label}: {ancestor} is a file, so nothing can be written under "
                          "it\n    fix: choose a path whose folders are folders")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: the folder {ancestor} is not writable\n    fix: change "
                          "its permissions or write elsewhere")
    source = input_matching(target, inputs)
    if source is not None:
        raise OutputError(f"{label}: this is an input of the job ({source}); writing it would "
                          "replace the data\n    fix: write the output to another file")
    return target


def input_matching(target: Path, inputs: Iterable[str | Path]) -> str | None:
    """The input ``target`` would overwrite: the same file, a file inside an input folder,
    or a file a glob pattern reads."""
    for item in inputs:
        text = str(item)
        if any(c in text for c in GLOB_CHARS):
            pattern = str(Path(text).expanduser().absolute())
            if fnmatch.fnmatch(str(target), pattern) or fnmatch.fnmatch(
                    str(target), str(Path(pattern).parent.resolve() / Path(pattern).name)):
                return text
            continue
        resolved = Path(text).expanduser().resolve()
        if target == resolved or resolved in target.parents:
            return text
    return None


# ---- the dry-run gate -----------------------------------------------------------------

_dry_run: ContextVar[list[str] | None] = ContextVar("tiers_dry_run", default=None)


@contextlib.contextmanager
def dry_run_scope(enabled: bool = True) -> Iterator[list[str]]:
    """While active, :func:`writes_allowed` is False and writers record what they would
    write (the list yielded) instead of writing it."""
    would: list[str] = []
    token = _dry_run.set(would if enabled else None)
    try:
        yield would
    finally:
        _dry_run.reset(token)


def writes_allowed() -> bool:
    return _dry_run.get() is None


def would_write(what: str) -> None:
    """Note, in a dry run, a file a writer did not write (``"3 rows to out.csv"``)."""
    would = _dry_run.get()
    if would is not None:
        would.append(what)
