"""YAML loading that remembers where every value came from, so errors can name a line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.core.errors import Problem, RulesetError
from tiers.core.locations import LineMap, Loc

if TYPE_CHECKING:
    import yaml

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
