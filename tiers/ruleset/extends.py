"""``extends:``: a ruleset built on another one, overriding parts of it.

```yaml
extends: base.yaml          # relative to this file
name: airline-premium
policies:
  - id: spend               # matched by id: deep-merged into the base's policy `spend`
    thresholds: {gold: 6000}
  - id: frequency
    remove: true            # drop a base policy
```

Merge rules: mappings merge key by key (deeply), unless the extending file changes the
mapping's ``type:`` or ``kind:`` (a csv source becoming an api source): then it replaces the
base's. Lists are replaced, except ``policies`` and ``actions``, whose items are matched by
``id`` (an item without ``id`` is matched by its ``type``): a matched item is deep-merged,
``remove: true`` drops it, other items are appended; an empty list (``actions: []``) drops
them all. A component's default paths (an email action's ``templates/``) resolve against the
file that declared the component (its ``type:``).
A base may itself extend another. Every value remembers the file and line it came from, so
errors point at the file that wrote the offending value; relative paths resolve against the
folder of the file that wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiers.core.errors import Problem, RulesetError
from tiers.core.locations import LineMap, Loc, render_path
from tiers.ruleset.yamlfile import load_yaml

KEYED_LISTS = ("policies", "actions")
KIND_KEYS = ("type", "kind")


@dataclass
class Node:
    """A YAML value with where it was written."""

    value: Any  # dict[str, Node] | list[Node] | scalar
    file: str
    loc: Loc
    lines: LineMap

    @property
    def line(self) -> int | None:
        return self.lines.line(self.loc)


def _annotate(data: Any, file: str, loc: Loc, lines: LineMap) -> Node:
    if isinstance(data, dict):
        value: Any = {k: _annotate(v, file, (*loc, k), lines) for k, v in data.items()}
    elif isinstance(data, list):
        value = [_annotate(v, file, (*loc, i), lines) for i, v in enumerate(data)]
    else:
        value = data
    return Node(value, file, loc, lines)


def _item_key(node: Node) -> str | None:
    if not isinstance(node.value, dict):
        return None
    for key in ("id", "type"):
        ident = node.value.get(key)
        if ident is not None and isinstance(ident.value, str):
            return ident.value
    return None


def _keyed_merge(base: Node, child: Node) -> Node:
    items = list(base.value)
    index = {_item_key(n): i for i, n in enumerate(items) if _item_key(n) is not None}
    removed: set[int] = set()
    for node in child.value:
        key = _item_key(node)
        remove = isinstance(node.value, dict) and "remove" in node.value and \
            node.value["remove"].value is True
        if key is not None and key in index:
            i = index[key]
            if remove:
                removed.add(i)
            else:
                items[i] = _merge(items[i], node, ("item",))
        elif remove:
            raise RulesetError([Problem(
                f"`remove: true` names {key!r}, which the base does not define", file=node.file,
                line=node.line, path=render_path(node.loc),
                hint="match the `id:` of a policy or action in the base ruleset")])
        else:
            items.append(node)
    kept = [n for i, n in enumerate(items) if i not in removed]
    return Node(kept, child.file, child.loc, child.lines)


def _changes_kind(base: Node, child: Node) -> bool:
    """A mapping whose `type:` (a component, an auth) or `kind:` (a window) changes is another
    thing: its base options would not fit, so it replaces the base's instead of merging."""
    for key in KIND_KEYS:
        old, new = base.value.get(key), child.value.get(key)
        if old is not None and new is not None and old.value != new.value:
            return True
    return False


def _merge(base: Node, child: Node, at: Loc) -> Node:
    if (isinstance(base.value, dict) and isinstance(child.value, dict)
            and not _changes_kind(base, child)):
        merged = dict(base.value)
        for key, node in child.value.items():
            merged[key] = _merge(base.value[key], node, (*at, key)) if key in base.value else node
        return Node(merged, child.file, child.loc, child.lines)
    if (len(at) == 1 and at[0] in KEYED_LISTS and isinstance(base.value, list)
            and isinstance(child.value, list) and child.value):  # `actions: []` drops them all
        return _keyed_merge(base, child)
    return child


def _flatten(node: Node, loc: Loc, lines: dict[Loc, int], files: dict[Loc, str],
             values: dict[Loc, str]) -> Any:
    line = node.line
    if line is not None:
        lines[loc] = line
    files[loc] = node.file
    if isinstance(node.value, dict):
        return {k: _flatten(v, (*loc, k), lines, files, values) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_flatten(v, (*loc, i), lines, files, values) for i, v in enumerate(node.value)]
    if isinstance(node.value, str):
        values[loc] = node.value
    return node.value


def _load_tree(path: Path, chain: list[Path]) -> tuple[Node, list[Path]]:
    data, lines = load_yaml(path)
    file = str(path)
    if not isinstance(data, dict) or "extends" not in data:
        return _annotate(data, file, (), lines), [path]
    ref = data["extends"]

    def problem(msg: str, hint: str) -> RulesetError:
        return RulesetError([Problem(msg, file=file, line=lines.line(("extends",)),
                                     path="extends", hint=hint)])

    if not isinstance(ref, str) or not ref.strip():
        raise problem("`extends` must be the path of another ruleset",
                      "write e.g. `extends: base.yaml` (relative to this file)")
    parent = Path(ref).expanduser()
    parent = parent if parent.is_absolute() else path.parent / parent
    if not parent.is_file():
        raise problem(f"extended ruleset not found: {parent}",
                      "fix the path; it is relative to the file that says `extends:`")
    seen = [p.resolve() for p in (*chain, path)]
    if parent.resolve() in seen:
        cycle = " -> ".join(str(p) for p in (*chain, path, parent))
        raise problem(f"`extends` goes round in a circle: {cycle}",
                      "remove `extends:` from one of these files")
    base, files = _load_tree(parent, [*chain, path])
    own = _annotate({k: v for k, v in data.items() if k != "extends"}, file, (), lines)
    return _merge(base, own, ()), [*files, path]


def load_ruleset_data(path: Path) -> tuple[Any, LineMap, list[Path]]:
    """The ruleset's data with every ``extends:`` resolved, its line map, and the files read
    (bases first)."""
    data, lines = load_yaml(path)
    if not isinstance(data, dict) or "extends" not in data:
        return data, lines, [path]
    tree, files = _load_tree(path, [])
    line_of: dict[Loc, int] = {}
    file_of: dict[Loc, str] = {}
    values: dict[Loc, str] = {}
    merged = _flatten(tree, (), line_of, file_of, values)
    return merged, LineMap(line_of, file_of, values), files
