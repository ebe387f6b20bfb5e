"""Options shared by the commands that read the state store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tiers.core.errors import TiersError

RulesetOpt = Annotated[Path | None, typer.Option(
    "--ruleset", "-r", help="Ruleset file: use its store and only its rows.")]
StateOpt = Annotated[str | None, typer.Option(
    "--state", help="State store URL or SQLite file (default: $TIERS_STATE_URL, else "
                    ".tiers/state.db next to the ruleset or in the current folder).")]


def open_for_reading(ruleset: Path | None, state: str | None) -> tuple[Any, str | None]:
    """The store and the ruleset name to filter on (None = every ruleset in the store)."""
    from tiers.store.location import redact, resolve_url
    from tiers.store.store import StateStore

    name = None
    state_key = None
    if ruleset is not None:
        from tiers.ruleset.yamlfile import load_yaml

        data, _ = load_yaml(ruleset)
        if isinstance(data, dict):
            name = data.get("name")
            state_key = data.get("state")
    url = resolve_url(ruleset, state_key, state)
    store = StateStore(url, create=False)
    if not store.exists:
        raise TiersError(f"no state store at {redact(url)}: nothing has been recorded yet. "
                         "Run `tiers run RULESET` first, or point --state / --ruleset at "
                         "the store")
    return store, name


def live_state(loaded: Any, state: str | None) -> Any:
    """The ruleset's store (a StateStore) when it holds a recorded run, else None. For
    commands that only read it (diff, report, explain): it is never created or written."""
    from tiers.store.location import resolve_url
    from tiers.store.store import StateStore

    store = StateStore(resolve_url(loaded.file, loaded.model.state, state), create=False)
    if not store.exists or store.previous_arrow(loaded.name) is None:
        store.dispose()
        return None
    return store
