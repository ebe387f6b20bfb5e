"""Everything serve needs from the engine and from explain, imported in this one place so
that a move of those modules changes only these lines."""

from __future__ import annotations

from tiers.engine.backends import connect
from tiers.engine.evaluate import Evaluation, as_of_instant, evaluate
from tiers.engine.events import events_table
from tiers.engine.fetch import to_arrow
from tiers.ruleset.loader import LoadedRuleset, load_ruleset
from tiers.store.store import previous_state_table
from tiers.whatif.explain import Explanation, build, condition_flags
from tiers.whatif.preload import PreloadedSource

__all__ = [
    "Evaluation", "Explanation", "LoadedRuleset", "PreloadedSource", "as_of_instant",
    "build", "condition_flags", "connect", "evaluate", "events_table",
    "load_ruleset", "previous_state_table", "to_arrow",
]
