"""Where a value of a ruleset came from: its YAML path, file and line, for located errors."""

from __future__ import annotations

from typing import Any

Loc = tuple[str | int, ...]


class LineMap:
    """Maps a YAML path such as ``("policies", 0, "thresholds")`` to a 1-based line number."""

    def __init__(self, lines: dict[Loc, int], files: dict[Loc, str] | None = None,
                 values: dict[Loc, str] | None = None):
        self._lines = lines
        # With `extends:`, values come from several files: the file of each path, if known.
        self._files = files or {}
        self._values = values or {}

    def _nearest(self, loc: Loc, table: dict[Loc, Any]) -> Any:
        # Fall back to the nearest parent: a missing key is reported at its mapping.
        loc = tuple(loc)
        while loc:
            if loc in table:
                return table[loc]
            loc = loc[:-1]
        return table.get(())

    def line(self, loc: Loc) -> int | None:
        return self._nearest(loc, self._lines)

    def file(self, loc: Loc, default: str) -> str:
        """The file that wrote the value at ``loc`` (``default`` for a single-file ruleset)."""
        return self._nearest(loc, self._files) or default

    def file_of_value(self, under: Loc, value: str, default: str) -> str:
        """The file that wrote the string ``value`` somewhere under ``under``: relative paths
        resolve against the folder of the file that wrote them."""
        n = len(under)
        for loc, v in self._values.items():
            if v == value and tuple(loc[:n]) == tuple(under):
                return self.file(loc, default)
        # A default nobody wrote: the file that declared the component (wrote its `type:`),
        # even when an extending file merged other options into it.
        return self.file((*under, "type"), default)


def render_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
