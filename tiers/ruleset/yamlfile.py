"""YAML loading that remembers where every value came from, so errors can name a line.

The file is checked as it is read: duplicate keys, numbers that are not finite, and the
limits of :mod:`tiers.ruleset.limits` are errors, never silently accepted."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.core.errors import Problem, RulesetError
from tiers.core.locations import LineMap, Loc, render_path
from tiers.ruleset import limits

if TYPE_CHECKING:
    import yaml

FLOAT_TAG = "tag:yaml.org,2002:float"


def _problem(path: Path, msg: str, line: int | None, hint: str,
             loc: Loc | None = None) -> RulesetError:
    return RulesetError([Problem(msg, file=str(path), line=line,
                                 path=render_path(loc) if loc else None, hint=hint)])


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _expanded_size(node: yaml.Node, path: Path, memo: dict[int, tuple[int, int]]
                   ) -> tuple[int, int]:
    """(nodes, depth) of ``node`` with every alias expanded; stops as soon as a limit is
    passed, so an alias bomb is refused after a few thousand steps, not billions."""
    import yaml

    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = (1, 1)  # a recursive alias counts once; PyYAML rejects real recursion anyway
    if isinstance(node, yaml.MappingNode):
        children = [c for pair in node.value for c in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    total, depth = 1, 1
    for child in children:
        size, below = _expanded_size(child, path, memo)
        total += size
        depth = max(depth, below + 1)
        if total > limits.MAX_NODES:
            raise _problem(
                path, f"the ruleset expands to more than {limits.MAX_NODES:,} values "
                "(aliases that repeat aliases)", _line(node),
                "write the values out, or use fewer nested `*alias` references; see "
                "docs/rulesets.md, Limits")
        if depth > limits.MAX_DEPTH:
            raise _problem(path, f"nested more than {limits.MAX_DEPTH} levels deep",
                           _line(node), "flatten the structure; see docs/rulesets.md, Limits")
    memo[key] = (total, depth)
    return total, depth


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], values: dict[Loc, str],
          path: Path, seen: set[int]) -> None:
    import yaml

    if len(loc) > limits.MAX_DEPTH:
        raise _problem(path, f"nested more than {limits.MAX_DEPTH} levels deep", _line(node),
                       "flatten the structure; see docs/rulesets.md, Limits", loc)
    lines.setdefault(loc, _line(node))
    if isinstance(node, yaml.ScalarNode):
        values[loc] = node.value
        return
    if id(node) in seen:
        # An alias: its values and lines were mapped where the anchor was written.
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            if k in first and k != "<<":
                where = render_path((*loc, k))
                both = (f"twice on line {first[k]}" if first[k] == _line(key)
                        else f"at lines {first[k]} and {_line(key)}")
                raise _problem(
                    path, f"duplicate key `{k}` {both}: YAML would silently keep only the "
                    "last one", _line(key),
                    f"remove one of the two `{k}:` entries (or merge them into one)",
                    (*loc, k) if where else None)
            first[k] = _line(key)
            # The key's line is the useful one: a value may start on the next line.
            lines[(*loc, k)] = _line(key)
            _walk(value, (*loc, k), lines, values, path, seen)
            lines[(*loc, k)] = _line(key)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*loc, i), lines, values, path, seen)


def _check_scalars(node: yaml.Node, path: Path, seen: set[int]) -> None:
    """Every scalar once (anchors are shared): size, and numbers that must be finite."""
    import yaml

    problems: list[Problem] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.ScalarNode):
            if len(n.value) > limits.MAX_SCALAR_CHARS:
                raise _problem(path, f"a value of {len(n.value):,} characters (the limit is "
                               f"{limits.MAX_SCALAR_CHARS:,})", _line(n),
                               "shorten it; long text belongs in a template file")
            if n.tag == FLOAT_TAG and not _finite(n.value):
                problems.append(Problem(
                    f"`{n.value}` is not a finite number", file=str(path), line=_line(n),
                    hint="use an ordinary number: NaN and infinity are not thresholds, "
                         "amounts or weights (leave an open bound out instead of .inf)"))
        elif isinstance(n, yaml.MappingNode):
            stack += [c for pair in n.value for c in pair]
        elif isinstance(n, yaml.SequenceNode):
            stack += n.value
    if problems:
        raise RulesetError(sorted(problems, key=lambda p: p.line or 0))


def _finite(text: str) -> bool:
    """Whether a YAML float is finite: `.nan`, `.inf`, `-.inf` and overflows like 1e999 are
    not. Sexagesimal floats (1:30.5) are finite and left to the constructor."""
    value = text.lower().replace("_", "").lstrip("+-")
    if value in (".nan", ".inf"):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return True


def _compose(text: str, path: Path) -> tuple[yaml.Node | None, Any]:
    import yaml

    class CountingLoader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > limits.MAX_ALIASES:
                    mark = self.peek_event().start_mark
                    raise _problem(path, f"more than {limits.MAX_ALIASES:,} `*alias` uses",
                                   mark.line + 1, "write the values out; see "
                                   "docs/rulesets.md, Limits")
            return super().compose_node(parent, index)

    loader = CountingLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded_size(node, path, {})
        _check_scalars(node, path, set())
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Read a YAML file, returning the data and a line map; bad YAML becomes a RulesetError."""
    import yaml  # here, not at the top: `tiers --help` must not pay for it

    try:
        size = path.stat().st_size
        if size > limits.MAX_FILE_BYTES:
            raise _problem(path, f"the ruleset is {size:,} bytes (the limit is "
                           f"{limits.MAX_FILE_BYTES:,})", None,
                           "a ruleset describes rules, not data: move data into a source "
                           "file; see docs/rulesets.md, Limits")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesetError(
            [Problem("file not found", file=str(path), hint="check the path of the ruleset")]
        ) from None
    except IsADirectoryError:
        raise RulesetError(
            [Problem("is a folder, not a file", file=str(path),
                     hint="give the path of the ruleset's .yaml file")]
        ) from None
    except UnicodeDecodeError as exc:
        raise RulesetError(
            [Problem(f"not UTF-8 text ({exc.reason})", file=str(path),
                     hint="save the ruleset as UTF-8")]
        ) from None
    try:
        node, data = _compose(text, path)
    except RecursionError:
        raise _problem(path, f"nested more than {limits.MAX_DEPTH} levels deep", None,
                       "flatten the structure; see docs/rulesets.md, Limits") from None
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
        _walk(node, (), lines, values, path, set())
    return data, LineMap(lines, values=values)
