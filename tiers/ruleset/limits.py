"""Resource limits on ruleset files, in one place (documented in docs/rulesets.md, "Limits").

A ruleset is small and written by a person; these bounds are far above any real one and far
below what would hurt the machine (a YAML alias bomb of a few hundred bytes expands to
billions of nodes)."""

from __future__ import annotations

MAX_FILE_BYTES = 1_000_000  # one ruleset file, before parsing
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_ALIASES = 1_000  # uses of `*alias` in one file
MAX_NODES = 200_000  # values in one file once aliases are expanded
MAX_SCALAR_CHARS = 100_000  # one key or value, e.g. an expression or a template name
MAX_NAME_CHARS = 100  # the ruleset's `name:`, which names its files
