"""Planning: every action of a ruleset turns the run's result into intents, before anything
is written or sent (a dry run stops here and shows the plan)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.actions.select import select
from tiers.core.action import Action, Intent, PlanInput
from tiers.engine.fetch import to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

    from tiers.engine.evaluate import Evaluation
    from tiers.ruleset.loader import LoadedRuleset


@dataclass
class ActionPlan:
    action: Action
    intents: list[Intent]
    known: int = 0               # keys already in the ledger (done or resumable)
    notes: list[str] = field(default_factory=list)

    @property
    def new(self) -> int:
        return len(self.intents) - self.known


def plan_input(ruleset: str, as_of: dt.datetime, evaluation: Evaluation, rows: pa.Table,
               store: Any = None) -> PlanInput:
    """What actions plan from: the settled evaluation, whose result and events the backend
    holds already, and its rows as fetched."""
    evaluation.settle()
    con = evaluation.con
    return PlanInput(ruleset, as_of, evaluation.table, evaluation.events, rows,
                     evaluation.ruleset.model.tier_ids(), store, selector=select,
                     fetcher=lambda expr: to_arrow(con, expr))


def plan_actions(loaded: LoadedRuleset, inp: PlanInput, store: Any) -> list[ActionPlan]:
    """Each action's intents, and how many of their keys the ledger already holds."""
    plans = []
    for action in loaded.actions:
        intents = action.plan(inp)
        known = len(store.existing_keys(i.key for i in intents)) if store is not None else 0
        plans.append(ActionPlan(action, intents, known))
    return plans
