"""Load each distinct source once per connection, for commands that evaluate many times.

`diff` evaluates two rulesets and `backtest` one ruleset at many dates. Both hand the engine
the same source tables: when two rulesets point at the same file with the same options it is
read once, and the loaded table is cached on the connection so that every further evaluation
aggregates from the backend's memory instead of parsing the files again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError, TiersError

if TYPE_CHECKING:

    import ibis.expr.types as ir

    from tiers.core.interfaces import Source
    from tiers.ruleset.loader import LoadedRuleset


class PreloadedSource:
    """Stands in for a source: returns the table loaded once; anything else is delegated."""

    def __init__(self, source: Source, table: ir.Table):
        self._source = source
        self._table = table

    def load(self, con: Any) -> ir.Table:
        return self._table

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def source_key(source: Source) -> str:
    """Two sources with equal keys yield the same table: same type, options and files."""
    options = source.config.model_dump(mode="json") if hasattr(source.config, "model_dump") \
        else dict(vars(source.config))
    if isinstance(options.get("path"), str):
        options["path"] = str(source.context.resolve(options["path"]).resolve())
    return json.dumps([source.name, options], sort_keys=True, default=str)


def share_sources(rulesets: list[LoadedRuleset], con: Any, *, cache: bool = True) -> int:
    """Replace every ruleset's sources by tables loaded once on ``con``; returns how many
    distinct tables were loaded. Idempotent: already shared sources are kept."""
    loaded_tables: dict[str, ir.Table] = {}
    for loaded in rulesets:
        for role, source in list(loaded.sources.items()):
            if isinstance(source, PreloadedSource):
                continue
            key = source_key(source)
            if key not in loaded_tables:
                table = source.load(con)
                if cache:
                    try:
                        table = table.cache()
                    except TiersError:
                        raise
                    except Exception as exc:
                        raise DataError(f"{loaded.file}: source `{role}` could not be "
                                        f"loaded: {exc}") from None
                loaded_tables[key] = table
            loaded.sources[role] = PreloadedSource(source, loaded_tables[key])  # type: ignore[assignment]
    return len(loaded_tables)
