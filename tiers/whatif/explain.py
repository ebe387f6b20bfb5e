"""`tiers explain`: why one customer holds their tier, and how far the next one is.

The whole ruleset is evaluated as usual (columnar), then filtered to the one customer in the
engine before anything is materialised; only that row becomes Python objects here.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.core.errors import CustomerNotFound
from tiers.core.expressions import parse_expression
from tiers.engine.conditions import compile_conditions
from tiers.engine.evaluate import Evaluation, evaluate
from tiers.engine.fetch import to_arrow

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from tiers.core.metrics import MetricSpec
    from tiers.core.windows import Window
    from tiers.ruleset.loader import LoadedRuleset


@dataclass
class Candidate:
    id: str
    kind: str  # policy type, or "qualify" for the tiers' own conditions
    granted: str | None
    reasons: list[str]


@dataclass
class Gap:
    """How much more of one metric would reach a higher tier on one policy: the figures a
    checkout shows ("you are 759.68 from senior"), where ``distance`` is the sentence."""

    policy: str
    tier: str
    tier_label: str
    metric: str
    current: float
    target: float
    needed: float
    window: str


@dataclass
class Explanation:
    ruleset: str
    customer_id: str
    as_of: str
    metrics: dict[str, Any]
    attributes: dict[str, Any]
    candidates: list[Candidate]
    hit_policy: str
    entry_tier: str
    maintenance: list[str]
    retention: list[str]
    override: str | None
    tier: str
    tier_label: str
    tier_event: str
    tier_since: str | None
    held_until: str | None
    previous_tier: str | None
    segments: list[str]
    segment_reasons: list[str]
    events: list[dict[str, Any]]
    next_tier: str | None
    distance: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _plain(value: Any) -> Any:
    """JSON-friendly scalars: decimals as floats, dates as ISO text."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return _iso(value)
    return value


def _flag(kind: str, index: int) -> str:
    return f"__{kind}_{index}"


def _one(con: Any, table: ir.Table, customer_id: str) -> list[dict[str, Any]]:
    return to_arrow(con, table.filter(table.customer_id == customer_id)).to_pylist()


def condition_flags(loaded: LoadedRuleset, ev: Evaluation) -> dict[str, ir.BooleanValue]:
    """Each tier condition's verdict as a column (the explanation's reasons read them),
    computed in the engine like everything else."""
    return {_flag(kind, i): cond.fill_null(False) for kind in ("qualify", "maintain")
            for i, cond in compile_conditions(loaded, ev.table, kind).items()}


def explain_customer(loaded: LoadedRuleset, customer_id: str, as_of: Any = None,
                     con: Any = None, previous: ir.Table | None = None) -> Explanation:
    # the customer's own rows are enough, unless a policy ranks them against everyone
    alone = not any(p.reads_population() for p in loaded.policies)
    ev = evaluate(loaded, as_of, con, previous, customers=[customer_id] if alone else None)
    flags = condition_flags(loaded, ev)
    rows = _one(ev.con, ev.table.mutate(**flags) if flags else ev.table, customer_id)
    if not rows:
        raise CustomerNotFound(
            f"customer {customer_id!r} is not in the data of {loaded.file} as of "
            f"{ev.as_of:%Y-%m-%d} (no orders before then and not in the customers table)")
    row = rows[0]
    assert ev.events is not None
    events = sorted(_one(ev.con, ev.events, customer_id), key=lambda e: (e["event"],
                                                                        e["detail"] or ""))
    return build(loaded, ev.as_of, row, [{"event": e["event"], "detail": e["detail"]}
                                         for e in events], ev.metric_columns)


def build(loaded: LoadedRuleset, as_of: dt.datetime, row: dict[str, Any],
          events: list[dict[str, Any]], metric_columns: list[str]) -> Explanation:
    model = loaded.model
    ids = model.tier_ids()
    label = {t.id: t.label for t in model.tiers}

    def tier_at(rank: int | None) -> str | None:
        return None if rank is None else ids[int(rank)]

    candidates = [
        Candidate(p.id, p.name, tier_at(row.get(f"rank_{p.id}")), p.explain(row))
        for p in loaded.policies if p.output == "tier"]
    if any(t.qualify for t in model.tiers):
        candidates.append(Candidate("qualify", "qualify", tier_at(row.get("rank_qualify")),
                                    _condition_lines(loaded, row, "qualify")))
    segment_reasons = [line for p in loaded.policies if p.output == "segment"
                       for line in p.explain(row)]
    attributes = {k: _plain(v) for k, v in row.items()
                  if k not in metric_columns and not k.startswith("rank_")
                  and k not in _ENGINE_COLUMNS and k != "customer_id" and not k.startswith("__")}
    nxt = int(row["tier_rank"]) + 1
    next_tier = ids[nxt] if nxt < len(ids) else None
    return Explanation(
        ruleset=model.name, customer_id=row["customer_id"], as_of=as_of.date().isoformat(),
        metrics={c: _plain(row.get(c)) for c in metric_columns},
        attributes=attributes, candidates=candidates, hit_policy=model.combine,
        entry_tier=ids[int(row["entry_rank"])],
        maintenance=_maintenance(loaded, row),
        retention=_retention(loaded, row, as_of),
        override=_override(loaded, row),
        tier=row["tier"], tier_label=label[row["tier"]], tier_event=row["tier_event"],
        tier_since=_iso(row.get("tier_since")), held_until=_iso(row.get("held_until")),
        previous_tier=row.get("prev_tier"), segments=list(row.get("segments") or []),
        segment_reasons=segment_reasons, events=events, next_tier=next_tier,
        distance=distance_lines(loaded, row, nxt, as_of) if next_tier else [],
        gaps=distance_gaps(loaded, row, nxt, as_of) if next_tier else [],
    )


_ENGINE_COLUMNS = {
    "tier", "tier_rank", "entry_rank", "maintain_rank", "qualified_rank", "assigned_rank",
    "prev_tier", "prev_rank", "prev_since", "prev_held_until", "prev_segments", "tier_event",
    "tier_since", "held_until", "segments", "pinned", "pin_rank", "pin_until", "pin_reason",
    "at_risk", "first_order_ts", "last_order_ts", "lifetime_spend", "lifetime_orders",
}


def _condition_lines(loaded: LoadedRuleset, row: dict[str, Any], kind: str) -> list[str]:
    lines = []
    for i, tier in enumerate(loaded.model.tiers):
        src = getattr(tier, kind)
        if src:
            verdict = "holds" if row.get(_flag(kind, i)) else "does not hold"
            lines.append(f"{tier.id}: `{src}` {verdict}")
    return lines


def _maintenance(loaded: LoadedRuleset, row: dict[str, Any]) -> list[str]:
    ids = loaded.model.tier_ids()
    if not any(t.maintain for t in loaded.model.tiers):
        return []
    lines = _condition_lines(loaded, row, "maintain")
    prev = row.get("prev_rank")
    if prev is None:
        lines.append("maintenance conditions apply from the next run (no previous tier)")
    elif row.get("maintain_rank") is not None and row["maintain_rank"] > row["entry_rank"]:
        lines.append(f"keeps {ids[row['maintain_rank']]} by its maintenance condition, although "
                     f"its entry requirements give only {ids[row['entry_rank']]}")
    else:
        lines.append(f"maintenance conditions count for tiers up to {ids[prev]} "
                     f"(the previous tier)")
    return lines


def _retention(loaded: LoadedRuleset, row: dict[str, Any], as_of: dt.datetime) -> list[str]:
    r = loaded.model.retention
    ids = loaded.model.tier_ids()
    q, a, p = row["qualified_rank"], row["assigned_rank"], row.get("prev_rank")
    held = row.get("prev_held_until")
    if p is None:
        out = [f"first evaluation of this customer: {ids[a]} as earned"]
    elif q > p:
        out = [f"upgrade from {ids[p]} to {ids[q]}: upgrades apply at once"]
    elif q == p:
        out = [f"earns {ids[q]} again" + (f"; held until {_iso(row.get('held_until'))}"
                                          if q and row.get("held_until") else "")]
    elif a == p:
        out = [f"earns only {ids[q]}, but {ids[p]} is held until {_iso(held)}"]
        if r.grace_days and held and held - dt.timedelta(days=r.grace_days) <= as_of:
            out.append(f"in the grace period ({r.grace_days} days after the hold ended)")
    elif a > q:
        out = [f"earns {ids[q]}; soft landing from {ids[p]} to {ids[a]} "
               f"(at most {r.max_drop} level(s) down per evaluation)"]
    else:
        out = [f"earns {ids[q]}; down from {ids[p]}"
               + (f" (the hold ended {_iso(held)})" if held else "")]
    if row.get("at_risk"):
        cfg = loaded.model.events.at_risk
        margin = f" or {cfg.margin:.0%} lower metrics" if cfg.margin else ""
        out.append(f"at risk: with the same metrics{margin}, an evaluation within "
                   f"{cfg.within_days} days would give a lower tier")
    return out


def _override(loaded: LoadedRuleset, row: dict[str, Any]) -> str | None:
    if row.get("pin_rank") is None:
        return None
    tier = loaded.model.tier_ids()[row["pin_rank"]]
    until = row.get("pin_until")
    end = f"through {_iso(until - dt.timedelta(days=1))}" if until else "with no end date"
    state = "in force" if row.get("pinned") else "expired"
    reason = f": {row['pin_reason']}" if row.get("pin_reason") else ""
    return f"pinned to {tier} {end} ({state}){reason}"


# ---- distance to the next tier -------------------------------------------------------------

def describe_window(window: Window | None, as_of: dt.datetime | None = None) -> str:
    """' within the last 365 days', ' in 2026', ' in 2026 Q3', ' in 2026-07'."""
    if window is None or window.kind == "all_time":
        return ""
    if window.kind == "rolling":
        return f" within the last {window.days} days"
    if as_of is None:
        return f" in the {window.kind.replace('_', ' ')} window"
    start, _ = window.bounds(as_of)
    assert start is not None
    if window.kind == "calendar_year":
        return f" in {start.year}"
    if window.kind == "quarter":
        return f" in {start.year} Q{(start.month - 1) // 3 + 1}"
    return f" in {start:%Y-%m}"


def _is_count(spec: MetricSpec | None, value: Any) -> bool:
    if spec is not None:
        return spec.measure in ("orders", "lifetime_orders") or spec.agg in (
            "count", "count_distinct")
    return isinstance(value, int)


def gap_amount(value: Any, target: float, strict: bool, spec: MetricSpec | None) -> float | None:
    """How much more of a metric reaches ``target`` (whole units for counts); None when met."""
    v = float(value or 0)
    if (v > target) if strict else (v >= target):
        return None
    if _is_count(spec, value) or (isinstance(value, int) and float(target).is_integer()):
        return math.floor(target - v) + 1 if strict else math.ceil(target - v)
    return round(target - v + (0.01 if strict else 0), 2)


def gap_text(name: str, value: Any, target: float, strict: bool,
             spec: MetricSpec | None, as_of: dt.datetime | None = None) -> str | None:
    """'1,240.00 more spend within the last 365 days', None when already met."""
    need = gap_amount(value, target, strict, spec)
    if need is None:
        return None
    words = name.replace("_", " ")
    where = describe_window(spec.window, as_of) if spec is not None else ""
    if isinstance(need, int):
        return f"{need:,} more {words}{where}"
    return f"{need:,.2f} more {words}{where}"


def _spec_for(loaded: LoadedRuleset, column: str) -> MetricSpec | None:
    return next((s for s in loaded.metric_specs if s.column == column), None)


def _expr_gaps(node: ast.AST, loaded: LoadedRuleset, row: dict[str, Any],
               as_of: dt.datetime | None = None) -> str | None:
    """What would make the condition hold; None when it cannot tell."""
    if isinstance(node, ast.BoolOp):
        parts = [_expr_gaps(v, loaded, row, as_of) for v in node.values]
        if any(p is None for p in parts):
            return None
        if isinstance(node.op, ast.Or):
            return "" if "" in parts else " or ".join(parts)  # type: ignore[arg-type]
        return " and ".join(p for p in parts if p)  # type: ignore[misc]
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(right, ast.Name) and isinstance(left, ast.Constant):
            left, right = right, left
            op = {ast.Lt: ast.Gt(), ast.LtE: ast.GtE()}.get(type(op), op)  # type: ignore
        if (isinstance(left, ast.Name) and isinstance(right, ast.Constant)
                and isinstance(op, (ast.Gt, ast.GtE)) and left.id in row
                and isinstance(right.value, (int, float))):
            gap = gap_text(left.id, row[left.id], float(right.value), isinstance(op, ast.Gt),
                           _spec_for(loaded, left.id), as_of)
            return gap or ""
    return None


def _policy_gap(policy: Any, loaded: LoadedRuleset, row: dict[str, Any],
                target: int, as_of: dt.datetime | None) -> str | None:
    """A policy's own `distance(row, rank)`, else the threshold ladder, else None."""
    custom = getattr(policy, "distance", None)
    if callable(custom):
        return custom(row, target)
    step = _ladder_step(policy, row, target)
    if step is None:
        return None
    _, minimum, spec = step
    return gap_text(spec.measure, row[spec.column], minimum, False, spec, as_of) or ""


def distance_lines(loaded: LoadedRuleset, row: dict[str, Any], target: int,
                   as_of: dt.datetime | None = None) -> list[str]:
    """Ways to reach ladder index ``target`` on entry requirements, in the customer's units."""

    options: list[str] = []
    for policy in loaded.policies:
        if policy.output != "tier":
            continue
        gap = _policy_gap(policy, loaded, row, target, as_of)
        if gap is None:
            options.append(f"{policy.id}: cannot tell how far (see its reasons above)")
        elif gap:
            options.append(f"needs {gap} ({policy.id})")
    tier_conditions = [(i, t.qualify) for i, t in enumerate(loaded.model.tiers)
                       if t.qualify and i >= target]
    if tier_conditions:
        i, src = tier_conditions[0]
        gap = _expr_gaps(parse_expression(src).tree, loaded, row, as_of)
        if gap:
            options.append(f"needs {gap} (qualify for {loaded.model.tiers[i].id})")
        elif gap is None:
            options.append(f"meet `{src}` (qualify for {loaded.model.tiers[i].id})")
    if not options:
        return []
    if loaded.model.combine in ("all", "lowest") and len(options) > 1:
        return ["all of:", *options]
    return options


def _ladder_step(policy: Any, row: dict[str, Any], target: int
                 ) -> tuple[int, float, MetricSpec] | None:
    """The lowest rung at or above ``target`` of a threshold policy: (rank, value, metric)."""
    ladder = getattr(policy, "ladder", None)
    metrics = getattr(policy, "metrics", None)
    if not callable(ladder) or not callable(metrics):
        return None
    try:
        steps = [(rank, value) for rank, _, value in ladder() if rank >= target]
        spec = metrics()[0]
    except Exception:
        return None
    if not steps or spec.column not in row:
        return None
    rank, value = min(steps)
    return rank, float(value), spec


def distance_gaps(loaded: LoadedRuleset, row: dict[str, Any], target: int,
                  as_of: dt.datetime | None = None) -> list[Gap]:
    """The figures behind :func:`distance_lines` for the policies that can tell them: threshold
    ladders and tier `qualify` conditions that compare one metric with a number."""
    ids = loaded.model.tier_ids()
    label = {t.id: t.label for t in loaded.model.tiers}
    gaps: list[Gap] = []
    for policy in loaded.policies:
        if policy.output != "tier" or callable(getattr(policy, "distance", None)):
            continue
        step = _ladder_step(policy, row, target)
        if step is None:
            continue
        rank, value, spec = step
        need = gap_amount(row[spec.column], value, False, spec)
        if need is not None:
            gaps.append(Gap(policy.id, ids[rank], label[ids[rank]], spec.column,
                            float(row[spec.column] or 0), value, need,
                            describe_window(spec.window, as_of).strip()))
    for i, tier in enumerate(loaded.model.tiers):
        if i < target or not tier.qualify:
            continue
        for name, value, strict in _simple_comparisons(parse_expression(tier.qualify).tree):
            if name in row:
                spec = _spec_for(loaded, name)
                need = gap_amount(row[name], value, strict, spec)
                if need is not None:
                    where = describe_window(spec.window, as_of) if spec else ""
                    gaps.append(Gap(f"qualify:{tier.id}", tier.id, tier.label, name,
                                    float(row[name] or 0), value, need, where.strip()))
        break
    return gaps


def _simple_comparisons(node: ast.AST) -> list[tuple[str, float, bool]]:
    """The `metric >= number` alternatives of a condition (alone or joined by `or`), each of
    which reaches the tier by itself: (metric, number, strict). Conditions that need several
    things at once give none: the figures would understate what it takes."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        parts = [_simple_comparisons(v) for v in node.values]
        return [c for p in parts for c in p] if all(parts) else []
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(right, ast.Name) and isinstance(left, ast.Constant):
            left, right = right, left
            op = {ast.Lt: ast.Gt(), ast.LtE: ast.GtE()}.get(type(op), op)  # type: ignore
        if (isinstance(left, ast.Name) and isinstance(right, ast.Constant)
                and isinstance(op, (ast.Gt, ast.GtE))
                and isinstance(right.value, (int, float)) and not isinstance(right.value, bool)):
            return [(left.id, float(right.value), isinstance(op, ast.Gt))]
    return []
