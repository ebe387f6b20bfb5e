"""Everything serve needs from the engine and from explain, imported in this one place so
that a move of those modules changes only these lines."""

from __future__ import annotations

from tiers.core.conditions import compile_conditions
from tiers.core.engine import Evaluation, as_of_instant, connect, evaluate
from tiers.core.events import events_table
from tiers.core.explain import Explanation, _flag, build
from tiers.core.loader import LoadedRuleset, load_ruleset
from tiers.core.materialize import to_arrow
from tiers.core.preload import PreloadedSource
from tiers.store.store import previous_state_table

__all__ = [
    "Evaluation", "Explanation", "LoadedRuleset", "PreloadedSource", "as_of_instant",
    "build", "compile_conditions", "condition_flags", "connect", "evaluate", "events_table",
    "load_ruleset", "previous_state_table", "to_arrow",
]


def condition_flags(loaded: LoadedRuleset, ev: Evaluation) -> dict:
    """Each tier condition's verdict as a column, exactly as explain_customer adds them (the
    explanation's reasons read these columns)."""
    return {_flag(kind, i): cond.fill_null(False) for kind in ("qualify", "maintain")
            for i, cond in compile_conditions(loaded, ev.table, kind).items()}
