"""YAML loading that remembers where every value came from, so errors can name a line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.core.errors import Problem, RulesetError

if TYPE_CHECKING:
    import yaml

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
        return self.file(under, default)


def render_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int],
          values: dict[Loc, str] | None = None) -> None:
    import yaml

    lines.setdefault(loc, node.start_mark.line + 1)
    if values is not None and isinstance(node, yaml.ScalarNode):
        values[loc] = node.value
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            # The key's line is the useful one: a value may start on the next line.
            lines[(*loc, k)] = key.start_mark.line + 1
            _walk(value, (*loc, k), lines, values)
            lines[(*loc, k)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*loc, i), lines, values)


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Read a YAML file, returning the data and a line map; bad YAML becomes a RulesetError."""
    import yaml  # here, not at the top: `tiers --help` must not pay for it

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesetError(
            [Problem("file not found", file=str(path), hint="check the path of the ruleset")]
        ) from None
    except UnicodeDecodeError as exc:
        raise RulesetError(
            [Problem(f"not UTF-8 text ({exc.reason})", file=str(path),
                     hint="save the ruleset as UTF-8")]
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        msg = f"malformed YAML: {what}" + (f" ({context})" if context else "")
        raise RulesetError(
            [Problem(msg, file=str(path), line=line,
                     hint="check indentation, colons and quoting around this line")]
        ) from None
    lines: dict[Loc, int] = {}
    values: dict[Loc, str] = {}
    if node is not None:
        _walk(node, (), lines, values)
    return data, LineMap(lines, values=values)
