"""The ``when:`` selection of every action, compiled to one Ibis expression over the run's
per-customer result (and its events, for ``when: {event: ...}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiers.core.action import ActionError, PlanInput, When, as_list
from tiers.core.expressions import ExpressionError
from tiers.engine.expressions import compile_expression

if TYPE_CHECKING:
    import ibis.expr.types as ir


def select(inp: PlanInput, when: When, action_id: str) -> ir.Table:
    """customer_id, event, detail and the customer's row, for each customer ``when`` selects."""
    import ibis

    t = inp.table
    conds = []
    tiers = as_list(when.tier)
    if tiers:
        conds.append(t.tier.isin(tiers))
    segments = as_list(when.segment)
    if segments:
        if "segments" not in t.columns:
            raise ActionError(f"action {action_id!r}: `when.segment` needs segment policies "
                              "in the ruleset (the run has no segments)")
        conds.append(ibis.or_(*[t.segments.contains(s) for s in segments]))
    if when.expression:
        conds.append(_expression(t, when.expression, action_id))
    base = t.filter(ibis.and_(*conds)) if conds else t
    events = as_list(when.event)
    if events:
        if inp.events is None:
            raise ActionError(f"action {action_id!r}: `when.event` needs the run's events, "
                              "which this engine does not provide")
        ev = inp.events.filter(inp.events.event.isin(events))
        ev = ev.select(ev.customer_id.cast("string").name("customer_id"),
                       ev.event.cast("string").name("event"),
                       ev.detail.cast("string").name("detail"))
        base = base.drop(*[c for c in ("event", "detail") if c in base.columns])
        joined = ev.join(base, "customer_id")
        return joined.drop("customer_id_right") if (
            "customer_id_right" in joined.columns) else joined
    if tiers:
        label, detail = ibis.literal("tier"), base.tier
    elif segments:
        label = ibis.literal("segment")
        detail = ibis.cases(*[(base.segments.contains(s), s) for s in segments])
    else:
        label, detail = ibis.literal("match"), ibis.null("string")
    return base.mutate(event=label, detail=detail.cast("string"))


def _expression(t: ir.Table, src: str, action_id: str) -> ir.BooleanValue:

    try:
        return compile_expression(src, t)
    except ExpressionError as exc:
        raise ActionError(f"action {action_id!r}: when.expression {src!r}: {exc}") from None
