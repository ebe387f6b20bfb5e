"""Segments: unordered labels beside the tier ladder; a customer may hold any number.

Each segment policy (``output = "segment"``) returns ``{label: condition}``. The engine puts
every label whose condition holds into one ``segments`` column (array<string>), in a fixed
order: policies in ruleset order, labels in the order each policy gives them. A label given by
two policies is held when either condition holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.core.interfaces import Policy

EMPTY = "array<string>"


def segment_conditions(policies: list[Policy], table: ir.Table) -> dict[str, ir.BooleanValue]:
    out: dict[str, ir.BooleanValue] = {}
    for policy in policies:
        if policy.output != "segment":
            continue
        for label, cond in policy.segments(table).items():
            cond = cond.fill_null(False)
            out[label] = out[label] | cond if label in out else cond
    return out


def empty_labels() -> ir.ArrayValue:
    """An empty array<string>. A bare empty literal compiles to Spark's untyped ARRAY(),
    which Spark refuses in array_contains; filtering a typed one-NULL array keeps the type."""
    import ibis

    return ibis.array([ibis.null("string")]).filter(lambda s: s.notnull())


def segments_array(conditions: dict[str, ir.BooleanValue]) -> ir.ArrayValue:
    import ibis

    if not conditions:
        return empty_labels()
    items = [ibis.ifelse(cond, label, ibis.null("string")) for label, cond in conditions.items()]
    return ibis.array(items).filter(lambda s: s.notnull()).cast(EMPTY)


def added(current: ir.ArrayValue, before: ir.ArrayValue) -> ir.ArrayValue:
    """Labels in ``current`` and not in ``before`` (NULL ``before`` counts as empty)."""

    before = before.fill_null(empty_labels())
    return current.filter(lambda s: ~before.contains(s))
