"""Where a ruleset's state store lives. Cheap to import (no SQLAlchemy)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TIERS_STATE_URL"
DEFAULT_DIR = ".tiers"
DEFAULT_FILE = "state.db"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def resolve_url(ruleset_file: Path | None = None, state: str | None = None,
                explicit: str | None = None) -> str:
    """The store URL: ``explicit`` (a --state option), else $TIERS_STATE_URL, else the
    ruleset's ``state:``, else ``.tiers/state.db`` next to the ruleset (or in the current
    folder when there is no ruleset). A value without ``://`` is a SQLite file path, relative
    to the ruleset."""
    base = ruleset_file.parent if ruleset_file is not None else Path.cwd()
    for value in (explicit, os.environ.get(ENV_VAR) or None, state):
        if value:
            if "://" in value:
                return value
            p = Path(value).expanduser()
            return sqlite_url(p if p.is_absolute() else base / p)
    return sqlite_url(base / DEFAULT_DIR / DEFAULT_FILE)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases (and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    rest = url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
