"""`tiers explain RULESET CUSTOMER_ID`: why a customer holds their tier, and how far the next
one is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tiers.cli.options import FormatOpt, StateOpt, live_state, output_format

if TYPE_CHECKING:
    from tiers.whatif.explain import Explanation


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "-" if v is None else str(v)


def render_text(e: Explanation) -> str:
    out = [f"{e.customer_id} in {e.ruleset} as of {e.as_of}: {e.tier_label} ({e.tier}), "
           f"{e.tier_event}" + (f" from {e.previous_tier}" if e.previous_tier
                                and e.previous_tier != e.tier else "")]
    since = f"since {e.tier_since}" if e.tier_since else ""
    held = f"held until {e.held_until}" if e.held_until else "no hold"
    out.append(f"  {since}, {held}" if since else f"  {held}")
    out.append("")
    out.append("Metrics")
    width = max((len(k) for k in e.metrics), default=0)
    out += [f"  {k.ljust(width)}  {_value(v)}" for k, v in e.metrics.items()]
    shown = {k: v for k, v in e.attributes.items() if v is not None}
    if shown:
        out.append("Attributes")
        out += [f"  {k}: {_value(v)}" for k, v in shown.items()]
    out.append("")
    out.append(f"Policies (hit policy: {e.hit_policy})")
    for c in e.candidates:
        out.append(f"  {c.id} ({c.kind}): {c.granted or 'grants nothing'}")
        out += [f"    {r}" for r in c.reasons]
    out.append(f"  => {e.entry_tier} on entry requirements")
    if e.maintenance:
        out.append("Maintenance")
        out += [f"  {line}" for line in e.maintenance]
    out.append("Retention")
    out += [f"  {line}" for line in e.retention]
    if e.override:
        out.append("Override")
        out.append(f"  {e.override}")
    out.append("")
    out.append("Segments: " + (", ".join(e.segments) if e.segments else "none"))
    out += [f"  {r}" for r in e.segment_reasons]
    out.append("Events: " + (", ".join(
        f"{ev['event']}" + (f" ({ev['detail']})" if ev["detail"] else "") for ev in e.events)
        or "none"))
    out.append("")
    if e.next_tier is None:
        out.append("Next tier: none, this is the top of the ladder")
    elif not e.distance:
        out.append(f"Next tier: {e.next_tier}; its entry requirements are already met "
                   "(retention or a pin decides)")
    else:
        out.append(f"Next tier: {e.next_tier}")
        lead = "  "
        for i, line in enumerate(e.distance):
            joiner = "or " if i and e.distance[0] != "all of:" else ""
            out.append(f"{lead}{joiner}{line}")
    return "\n".join(out)


def explain(
    ruleset: Annotated[Path, typer.Argument(help="Ruleset YAML file.", show_default=False)],
    customer_id: Annotated[str, typer.Argument(help="The customer to explain.",
                                               show_default=False)],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Evaluate as of this date (YYYY-MM-DD). Default: the ruleset's "
                        "`as_of`, else today.")] = None,
    previous: Annotated[Path | None, typer.Option(
        "--previous", help="Previous state as a Parquet file (columns of "
                           "tiers.core.record.PREVIOUS_STATE_SCHEMA); default: the state after "
                           "the last recorded run, when the ruleset's store has one.")] = None,
    fmt: FormatOpt = "table",
    state: StateOpt = None,
) -> None:
    """Explain one customer's tier: metrics, policies, retention, events, distance to next."""
    from tiers.cli.common import load, reported
    from tiers.cli.progress import progress
    from tiers.cli.render import emit
    from tiers.whatif.explain import explain_customer

    with reported():
        fmt = output_format(fmt)
        with progress("explain", fmt) as shown:
            shown.stage("load ruleset")
            loaded = load(ruleset)
            shown.stage("read the recorded state")
            prev = (_read_previous(previous) if previous is not None
                    else _recorded(loaded, as_of, state))
            shown.stage("load sources and evaluate")
            e = explain_customer(loaded, customer_id, as_of=as_of, previous=prev)
        emit(fmt, data=e.to_json(), rows=[explain_row(e)],
             table=lambda: typer.echo(render_text(e)))


def explain_row(e: Explanation) -> dict[str, Any]:
    """The explanation as one flat record: the customer, their tier, each metric and
    attribute as a column of its own."""
    return {"customer_id": e.customer_id, "ruleset": e.ruleset, "as_of": e.as_of,
            "tier": e.tier, "tier_label": e.tier_label, "tier_event": e.tier_event,
            "previous_tier": e.previous_tier, "tier_since": e.tier_since,
            "held_until": e.held_until, "entry_tier": e.entry_tier, "next_tier": e.next_tier,
            "segments": e.segments,
            **{f"metric.{k}": v for k, v in e.metrics.items()},
            **{f"attribute.{k}": v for k, v in e.attributes.items()}}


def _recorded(loaded: Any, as_of: str | None, state: str | None) -> Any:
    """The live state (read only), as the next run would start from it; None when there is
    no recorded run or the date asked for is before it."""
    from tiers.engine.evaluate import as_of_instant

    store = live_state(loaded, state)
    if store is None:
        return None
    try:
        last = store.last_as_of(loaded.name)
        instant = as_of_instant(as_of if as_of is not None else loaded.model.as_of)
        return store.previous(loaded.name) if last is not None and last <= instant else None
    finally:
        store.dispose()


def _read_previous(path: Path) -> Any:
    import ibis
    import pyarrow.parquet as pq

    from tiers.core.errors import DataError

    try:
        return ibis.memtable(pq.read_table(path))
    except Exception as exc:
        raise DataError(f"--previous {path}: not a readable Parquet file ({exc})") from None
