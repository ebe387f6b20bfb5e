"""Errors of the state store."""

from __future__ import annotations

from tiers.core import exits
from tiers.core.errors import TiersError


class StoreError(TiersError):
    """The state store cannot be opened or used."""

    exit_code = exits.STORE


class RunLockedError(StoreError):
    """Another run of the same ruleset is active against the same store."""

    exit_code = exits.LOCKED
