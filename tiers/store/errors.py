"""Errors of the state store."""

from __future__ import annotations

from typing import Any

from tiers.core import exits
from tiers.core.errors import TiersError
from tiers.store.location import redact, sqlite_path


class StoreError(TiersError):
    """The state store cannot be opened or used."""

    exit_code = exits.STORE


class RunLockedError(StoreError):
    """Another run of the same ruleset is active against the same store."""

    exit_code = exits.LOCKED


#: what SQLite says about a file that is not a database, or a damaged one
DAMAGED = ("file is not a database", "malformed", "disk image", "not a database",
           "file is encrypted")


def unusable_store(url: str, exc: Any) -> StoreError:
    """The error for a store that cannot be opened: a damaged or foreign SQLite file gets
    the fix (restore or move aside), other failures the database's own words."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    path = sqlite_path(url)
    if path is not None and any(word in reason.lower() for word in DAMAGED):
        return StoreError(
            f"the state store {path} is not a SQLite database or is damaged ({reason}); "
            "nothing was read or recorded\n"
            "    fix: restore the file from a backup, or move it aside to start a new "
            "store (it holds the ledger: without it every action is carried out again), "
            "or point --state at the right store")
    return StoreError(f"cannot open the state store {redact(url)}: {reason}\n"
                      "    fix: check the URL, that the database is up and that you may "
                      "write it")
