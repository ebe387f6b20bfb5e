"""What-if: two rulesets (or two dates) on the same customers, joined and compared.

Both evaluations run on one connection over the same loaded source tables; their results are
joined on customer_id in Ibis and materialised once as a small Arrow table (one row per
customer, a handful of columns), from which the migration matrix, the per-tier totals and the
list of affected customers are all derived columnar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError, TiersError
from tiers.engine.backends import connect
from tiers.engine.evaluate import as_of_instant, evaluate
from tiers.whatif.preload import share_sources

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from tiers.engine.evaluate import Evaluation
    from tiers.ruleset.loader import LoadedRuleset

# Row / column label for customers present on one side only.
NEW = "(new)"
GONE = "(gone)"


@dataclass
class Migration:
    """Counts of customers moving from each tier (rows) to each tier (columns)."""

    from_tiers: list[str]
    to_tiers: list[str]
    counts: list[list[int]]
    from_labels: list[str] = field(default_factory=list)
    to_labels: list[str] = field(default_factory=list)

    def count(self, from_tier: str, to_tier: str) -> int:
        return self.counts[self.from_tiers.index(from_tier)][self.to_tiers.index(to_tier)]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))

    @property
    def moved(self) -> int:
        """Customers whose tier id differs between the two sides (new and gone included)."""
        return sum(n for i, row in enumerate(self.counts) for j, n in enumerate(row)
                   if self.from_tiers[i] != self.to_tiers[j])

    def links(self) -> list[tuple[str, str, int]]:
        """(from, to, count) for every non-empty cell, for flow diagrams."""
        return [(self.from_tiers[i], self.to_tiers[j], n)
                for i, row in enumerate(self.counts) for j, n in enumerate(row) if n]

    def to_json(self) -> dict[str, Any]:
        return {"from": self.from_tiers, "to": self.to_tiers, "counts": self.counts,
                "from_labels": self.from_labels, "to_labels": self.to_labels}


def migration_matrix(from_tier: pa.ChunkedArray | pa.Array, to_tier: pa.ChunkedArray | pa.Array,
                     from_ladder: list[str], to_ladder: list[str],
                     labels: dict[str, str] | None = None) -> Migration:
    """Cross-tabulate two aligned tier-id columns; NULL on the left means a new customer,
    NULL on the right a customer who is gone. Rows and columns follow the ladders, lowest
    first; the (new) row and (gone) column appear only when non-empty."""
    import pyarrow as pa

    pairs = pa.table({"f": from_tier, "t": to_tier}).group_by(["f", "t"]).aggregate(
        [([], "count_all")])
    cells = {(r["f"], r["t"]): r["count_all"] for r in pairs.to_pylist()}
    extra_from = sorted({f for f, _ in cells if f is not None and f not in from_ladder})
    extra_to = sorted({t for _, t in cells if t is not None and t not in to_ladder})
    rows = [*from_ladder, *extra_from] + ([NEW] if any(f is None for f, _ in cells) else [])
    cols = [*to_ladder, *extra_to] + ([GONE] if any(t is None for _, t in cells) else [])

    def key(name: str, none_label: str) -> str | None:
        return None if name == none_label else name

    counts = [[cells.get((key(r, NEW), key(c, GONE)), 0) for c in cols] for r in rows]
    labels = labels or {}
    return Migration(rows, cols, counts, [labels.get(r, r) for r in rows],
                     [labels.get(c, c) for c in cols])


@dataclass
class TierTotal:
    tier: str
    name: str
    customers: int
    spend: float


@dataclass
class TierChange:
    tier: str
    name: str
    before: int
    after: int
    spend_before: float
    spend_after: float

    @property
    def delta(self) -> int:
        return self.after - self.before


@dataclass
class Diff:
    """Everything `tiers diff` reports."""

    old: LoadedRuleset
    new: LoadedRuleset
    as_of: dt.datetime
    joined: pa.Table        # one row per customer: both sides' tier, rank and spend
    matrix: Migration
    tiers: list[TierChange]
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def customers(self) -> int:
        return self.joined.num_rows

    def affected(self) -> pa.Table:
        """Customers whose tier differs, with a direction: up, down or moved (other ladder)."""
        import pyarrow.compute as pc

        t = self.joined
        old_tier, new_tier = t["old_tier"], t["new_tier"]
        changed = pc.fill_null(pc.not_equal(old_tier, new_tier), True)
        changed = pc.and_(changed, pc.invert(pc.and_(pc.is_null(old_tier),
                                                      pc.is_null(new_tier))))
        rows = t.filter(changed)
        up = pc.greater(rows["new_rank"], rows["old_rank"])
        down = pc.less(rows["new_rank"], rows["old_rank"])
        direction = pc.if_else(pc.is_null(rows["old_tier"]), "new",
                    pc.if_else(pc.is_null(rows["new_tier"]), "gone",
                    pc.if_else(up, "up", pc.if_else(down, "down", "moved"))))
        rows = rows.append_column("direction", direction)
        return rows.sort_by([("customer_id", "ascending")])

    def counts(self) -> dict[str, int]:
        import pyarrow.compute as pc

        affected = self.affected()
        values = pc.value_counts(affected["direction"]).to_pylist()
        by = {v["values"]: v["counts"] for v in values}
        return {"customers": self.customers, "changed": affected.num_rows,
                **{k: by.get(k, 0) for k in ("up", "down", "moved", "new", "gone")}}


def _side(evaluation: Evaluation, prefix: str) -> ir.Table:
    t = evaluation.table
    return t.select(customer_id=t.customer_id, **{
        f"{prefix}_tier": t.tier, f"{prefix}_rank": t.tier_rank,
        f"{prefix}_spend": t.spend.cast("float64")})


def join_sides(old: Evaluation, new: Evaluation) -> ir.Table:
    """Full outer join of two evaluations on customer_id, keeping one key column."""
    import ibis

    a, b = _side(old, "old"), _side(new, "new")
    b = b.rename(customer_id_new="customer_id")
    j = a.outer_join(b, a.customer_id == b.customer_id_new)
    return j.select(customer_id=ibis.coalesce(j.customer_id, j.customer_id_new),
                    **{c: j[c] for c in ("old_tier", "old_rank", "old_spend",
                                         "new_tier", "new_rank", "new_spend")})


def tier_totals(tier: pa.ChunkedArray, spend: pa.ChunkedArray,
                loaded: LoadedRuleset) -> list[TierTotal]:
    import pyarrow as pa

    g = pa.table({"tier": tier, "spend": spend}).filter(
        pa.compute.is_valid(tier)).group_by("tier").aggregate(
        [("tier", "count"), ("spend", "sum")])
    by = {r["tier"]: r for r in g.to_pylist()}
    return [TierTotal(t.id, t.label, by.get(t.id, {}).get("tier_count", 0),
                      by.get(t.id, {}).get("spend_sum") or 0.0) for t in loaded.model.tiers]


def tier_changes(before: list[TierTotal], after: list[TierTotal]) -> list[TierChange]:
    """Align two ladders by tier id, in the old ladder's order then the new one's extras."""
    b = {t.tier: t for t in before}
    a = {t.tier: t for t in after}
    out = []
    for tier_id in dict.fromkeys([*b, *a]):
        x, y = b.get(tier_id), a.get(tier_id)
        name = (y or x).name  # type: ignore[union-attr]
        out.append(TierChange(tier_id, name, x.customers if x else 0, y.customers if y else 0,
                              x.spend if x else 0.0, y.spend if y else 0.0))
    return out


def tier_labels(*rulesets: LoadedRuleset) -> dict[str, str]:
    labels: dict[str, str] = {}
    for loaded in rulesets:
        for t in loaded.model.tiers:
            labels.setdefault(t.id, t.label)
    return labels


def materialise(expr: ir.Table, con: Any, what: str) -> pa.Table:
    try:
        return con.to_pyarrow(expr)
    except TiersError:
        raise
    except Exception as exc:
        raise DataError(f"the engine could not evaluate {what}: {exc}") from None


def diff_evaluations(old: Evaluation, new: Evaluation, costs: bool = False,
                     store: Any = None) -> Diff:
    """Compare two evaluations that share a connection, in one query; ``costs`` adds what
    each side's actions would hand out (see tiers.whatif.costs), less what ``store``'s ledger
    already holds."""
    joined = materialise(join_sides(old, new), old.con,
                         f"{old.ruleset.file} against {new.ruleset.file}")
    matrix = migration_matrix(joined["old_tier"], joined["new_tier"],
                              old.ruleset.model.tier_ids(), new.ruleset.model.tier_ids(),
                              tier_labels(old.ruleset, new.ruleset))
    before = tier_totals(joined["old_tier"], joined["old_spend"], old.ruleset)
    after = tier_totals(joined["new_tier"], joined["new_spend"], new.ruleset)
    result = Diff(old.ruleset, new.ruleset, new.as_of, joined, matrix,
                  tier_changes(before, after))
    if costs:
        from tiers.whatif.costs import action_costs, cost_changes

        result.actions = cost_changes(action_costs(old, store=store),
                                      action_costs(new, store=store))
    return result


def diff_rulesets(old: LoadedRuleset, new: LoadedRuleset, as_of: Any = None,
                  con: Any = None, old_as_of: Any = None, state: Any = None) -> Diff:
    """Evaluate ``old`` and ``new`` on the same data and compare them.

    ``as_of`` defaults to the new ruleset's ``as_of`` (else today); ``old_as_of`` lets the
    same ruleset be compared across two dates. ``state`` (a StateStore) supplies the live
    state after ``old``'s last run; both sides start from it, as the next live run would, so
    retention and events (upgraded, downgraded...) are those that run would see.
    """

    instant = as_of_instant(as_of if as_of is not None else new.model.as_of)
    old_instant = as_of_instant(old_as_of) if old_as_of is not None else instant
    if con is None:
        con = connect(new.model.engine)
    share_sources([old, new], con, cache=False)
    previous = state.previous(old.name, con) if state is not None else None
    return diff_evaluations(evaluate(old, old_instant, con, previous=previous),
                            evaluate(new, instant, con, previous=previous),
                            costs=True, store=state)
