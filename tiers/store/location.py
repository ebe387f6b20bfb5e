"""Where a ruleset's state store lives: one rule for every command (docs/state-store.md).
Cheap to import (no SQLAlchemy).

With a ruleset: --state, else $TIERS_STATE_URL, else the ruleset's ``state:``, else
``.tiers/state.db`` next to the ruleset. Without one (``tiers runs``, ``tiers history``):
--state, else $TIERS_STATE_URL, else ``.tiers/state.db`` in the current folder, else in the
folders one level down, where ``tiers run rulesets/x.yaml`` puts it when run from a project
root."""

from __future__ import annotations

import os
from pathlib import Path

from tiers.core import exits
from tiers.core.errors import TiersError

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


class StoreNotFound(TiersError):
    """No state store where the rule says, or several and no way to choose."""

    exit_code = exits.STORE


def store_files(folder: Path) -> list[Path]:
    """The SQLite stores for a command given no ruleset: ``folder/.tiers/state.db``, else
    every ``folder/*/.tiers/state.db``."""
    here = folder / DEFAULT_DIR / DEFAULT_FILE
    if here.is_file():
        return [here]
    return sorted(p for p in folder.glob(f"*/{DEFAULT_DIR}/{DEFAULT_FILE}") if p.is_file())


def locate_url(ruleset_file: Path | None = None, state: str | None = None,
               explicit: str | None = None, folder: Path | None = None) -> str:
    """The store URL a reading command uses: :func:`resolve_url` with a ruleset, --state or
    $TIERS_STATE_URL; else the one store :func:`store_files` finds. Raises
    :class:`StoreNotFound`, naming where it looked, when that finds none or several."""
    if ruleset_file is not None or explicit or os.environ.get(ENV_VAR):
        return resolve_url(ruleset_file, state, explicit)
    folder = folder if folder is not None else Path.cwd()
    found = store_files(folder)
    if len(found) == 1:
        return sqlite_url(found[0])
    if found:
        raise StoreNotFound(
            "several state stores here: " + ", ".join(str(_shown(p, folder)) for p in found)
            + "; choose one with -r RULESET (or --state FILE)")
    raise StoreNotFound(
        f"no state store found: looked for {DEFAULT_DIR}/{DEFAULT_FILE} in {folder} and in "
        f"each folder one level down (${ENV_VAR} is not set). Run `tiers run RULESET` "
        "first, or point -r RULESET or --state at the store")


def _shown(path: Path, folder: Path) -> Path:
    try:
        return path.relative_to(folder)
    except ValueError:
        return path


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
