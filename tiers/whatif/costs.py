"""What a ruleset's actions would hand out, for what-if and backtest: counted, never carried out.

Each action's ``when:`` selection runs on the engine like a live plan, but instead of building
intents it returns one narrow row per intent (customer, event, detail, value) and the action
sums them into a few named figures (coupons and their value, reps needed against roster
capacity, emails, webhook calls). Nothing touches the state store.

Over several periods (a backtest), an intent counts once per idempotency period the way the
ledger would issue it: a yearly coupon planned in every monthly period is counted once a year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.actions.plan import plan_input
from tiers.core.action import Action, idempotency_key, intent_label, period_label
from tiers.engine.fetch import to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

    from tiers.engine.evaluate import Evaluation
    from tiers.ruleset.loader import LoadedRuleset


@dataclass
class ActionCost:
    """One action's figures; ``figures`` keys are plain words shown as they are."""

    action: str
    action_type: str
    figures: dict[str, float]


@dataclass
class Ledger:
    """Keys already counted per action across a backtest's periods (customer, event, period)."""

    seen: dict[str, pa.Table] = field(default_factory=dict)

    def new_rows(self, action: Action, rows: pa.Table, as_of: dt.datetime) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not action.counts_once_per_period:
            return rows
        period = period_label(as_of, action.config.period)
        label = pc.if_else(pc.is_valid(rows["detail"]),
                           pc.binary_join_element_wise(rows["event"], rows["detail"], ":"),
                           rows["event"])
        keys = pc.binary_join_element_wise(rows["customer_id"], label, period, "\x1f")
        before = self.seen.get(action.id)
        if before is not None:
            fresh = pc.invert(pc.is_in(keys, value_set=before["key"]))
            rows, keys = rows.filter(fresh), keys.filter(fresh)
        added = pa.table({"key": keys})
        self.seen[action.id] = added if before is None else pa.concat_tables([before, added])
        return rows


def costed_actions(loaded: LoadedRuleset) -> list[Action]:
    return [a for a in loaded.actions if a.has_costs]


def action_costs(evaluation: Evaluation, ledger: Ledger | None = None,
                 store: Any = None, table: pa.Table | None = None) -> list[ActionCost]:
    """Figures for every action of the evaluation's ruleset that hands something out.

    The per-customer result is computed once on the backend (``table`` holds its rows when
    the caller fetched them already), as for a live plan; each action's selection runs there.
    With a state store, intents its ledger already holds (issued earlier this period) are left
    out, as the next live run would.
    """

    actions = costed_actions(evaluation.ruleset)
    if not actions:
        return []
    con = evaluation.con
    evaluation.settle()
    rows = table if table is not None else to_arrow(con, evaluation.table)
    inp = plan_input(evaluation.ruleset.name, evaluation.as_of, evaluation, rows)
    out = []
    for action in actions:
        intents = to_arrow(con, action.cost_rows(inp))
        if ledger is not None:
            intents = ledger.new_rows(action, intents, evaluation.as_of)
        if store is not None and action.counts_once_per_period:
            intents = not_in_ledger(store, action, intents, evaluation.as_of)
        out.append(ActionCost(action.id, action.name, action.cost_figures(intents)))
    return out


def not_in_ledger(store: Any, action: Action, rows: pa.Table, as_of: dt.datetime
                  ) -> pa.Table:
    import pyarrow as pa

    period = period_label(as_of, action.config.period)
    ruleset = action.context.ruleset.name
    keys = [idempotency_key(ruleset, action.id, c, intent_label(e, d), period)
            for c, e, d in zip(rows["customer_id"].to_pylist(), rows["event"].to_pylist(),
                               rows["detail"].to_pylist(), strict=True)]
    known = store.existing_keys(keys)
    if not known:
        return rows
    return rows.filter(pa.array([k not in known for k in keys], pa.bool_()))


def cost_changes(old: list[ActionCost], new: list[ActionCost]) -> list[dict[str, Any]]:
    """Old and new figures side by side, per action id (either side may lack the action)."""
    a = {c.action: c for c in old}
    b = {c.action: c for c in new}
    rows = []
    for action in dict.fromkeys([*a, *b]):
        x, y = a.get(action), b.get(action)
        names = list(dict.fromkeys([*(x.figures if x else {}), *(y.figures if y else {})]))
        rows.append({"action": action, "type": (y or x).action_type,  # type: ignore[union-attr]
                     "figures": {n: {"before": x.figures.get(n, 0.0) if x else 0.0,
                                     "after": y.figures.get(n, 0.0) if y else 0.0}
                                 for n in names}})
    return rows


def sum_figures(costs: list[ActionCost]) -> dict[str, float]:
    """One flat mapping ``action.figure -> value`` for a backtest period."""
    return {f"{c.action}.{name}": value for c in costs for name, value in c.figures.items()}
