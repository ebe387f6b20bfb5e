"""Options shared by the commands: the output format, and the state store they read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

FORMATS = ("table", "json", "csv")
# old spellings, still accepted (hidden from --help): explain's `--format text`, and `--json`
# on runs, history and plugins
FORMAT_ALIASES = {"text": "table"}

FormatOpt = Annotated[str, typer.Option(
    "--format", help="table (for people), json or csv (for scripts).")]
JsonOpt = Annotated[bool, typer.Option(
    "--json", hidden=True, help="Deprecated spelling of --format json.")]


def output_format(fmt: str, as_json: bool = False) -> str:
    """The format asked for, old spellings mapped to their new one (with a warning on
    stderr); a bad value is a usage error (exit 2)."""
    from tiers.cli.common import err
    from tiers.core.errors import UsageError

    if as_json:
        err("warning: --json is deprecated; use --format json")
        return "json"
    if fmt in FORMAT_ALIASES:
        err(f"warning: --format {fmt} is deprecated; use --format {FORMAT_ALIASES[fmt]}")
        return FORMAT_ALIASES[fmt]
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use table, json or csv")
    return fmt


RulesetOpt = Annotated[Path | None, typer.Option(
    "--ruleset", "-r", help="Ruleset file: use its store and only its rows.")]
StateOpt = Annotated[str | None, typer.Option(
    "--state", help="State store URL or SQLite file (default: $TIERS_STATE_URL, else "
                    ".tiers/state.db next to the ruleset; without -r, .tiers/state.db here "
                    "or one folder down).")]


def open_for_reading(ruleset: Path | None, state: str | None) -> tuple[Any, str | None]:
    """The store and the ruleset name to filter on (None = every ruleset in the store)."""
    from tiers.store.location import StoreNotFound, locate_url, redact
    from tiers.store.store import StateStore

    name = None
    state_key = None
    if ruleset is not None:
        from tiers.ruleset.yamlfile import load_yaml

        data, _ = load_yaml(ruleset)
        if isinstance(data, dict):
            name = data.get("name")
            state_key = data.get("state")
    url = locate_url(ruleset, state_key, state)
    store = StateStore(url, create=False)
    if not store.exists:
        raise StoreNotFound(f"no state store at {redact(url)}: nothing has been recorded "
                            "yet. Run `tiers run RULESET` first, or point --state / "
                            "--ruleset at the store")
    return store, name


def live_state(loaded: Any, state: str | None) -> Any:
    """The ruleset's store (a StateStore) when it holds a recorded run, else None. For
    commands that only read it (diff, report, explain): it is never created or written."""
    from tiers.store.location import resolve_url, sqlite_path

    url = resolve_url(loaded.file, loaded.model.state, state)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    from tiers.store.store import StateStore

    store = StateStore(url, create=False)
    if not store.exists or store.previous_arrow(loaded.name) is None:
        store.dispose()
        return None
    return store
