"""The run after evaluation: previous state in, plan, record, apply.

    lock -> previous state -> evaluate -> plan actions -> record state + pending intents
    (one transaction) -> apply open intents -> finish the run, release the lock

A dry run reads the previous state if a store exists, plans, and stops: nothing is written.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

from tiers.core.actions import ActionPlan, PlanInput, TierAction

if TYPE_CHECKING:
    import pyarrow as pa

    from tiers.core.engine import RunResult
    from tiers.core.loader import LoadedRuleset
    from tiers.store.store import StateStore


def open_state(loaded: LoadedRuleset, state: Any, dry_run: bool) -> StateStore | None:
    """The store for ``state`` (None, True, a URL or a StateStore); a dry run never creates
    or upgrades one."""
    if state is None or state is False:
        return None
    from tiers.store.store import StateStore

    if isinstance(state, StateStore):
        return state
    from tiers.store.location import resolve_url

    url = resolve_url(loaded.file, loaded.model.state, None if state is True else str(state))
    return StateStore(url, create=not dry_run)


def run_pipeline(loaded: LoadedRuleset, instant: dt.datetime, con: Any,
                 store: StateStore | None, dry_run: bool, progress: Any = None) -> RunResult:
    from tiers.core.engine import connect, materialize

    notes: list[str] = []
    backdated = False
    if store is not None:
        last = store.last_as_of(loaded.name)
        if last is not None and instant < last:
            backdated = True
            notes.append(f"as-of {instant:%Y-%m-%d} is before the last recorded run "
                         f"({last:%Y-%m-%d}): evaluated without the previous state; nothing "
                         "was recorded or applied")
    handle = None
    if store is not None and not dry_run and not backdated:
        handle = store.begin_run(loaded.name, loaded.content_hash, instant)
        if handle.recovered is not None:
            h = handle.recovered
            notes.append(f"took over the lock of run {h.run_id} (pid {h.pid} has stopped); "
                         "its open intents are resumed below")
    try:
        con = con if con is not None else connect(loaded.model.engine)
        t0 = time.perf_counter()
        previous = store.previous(loaded.name, con) if store and not backdated else None
        load_previous = time.perf_counter() - t0
        result = materialize(loaded, instant, con, previous)
        result.timings["previous"] = load_previous
        result.notes += notes
        result.dry_run = dry_run
        result.store_url = store.url if store is not None else None
        if loaded.actions and (store is not None or dry_run) and not backdated:
            t0 = time.perf_counter()
            result.plans = plan_actions(loaded, result, store)
            result.timings["plan"] = time.perf_counter() - t0
        if handle is not None:
            assert store is not None
            result.run = handle
            t0 = time.perf_counter()
            store.record(result, ledger_rows(result.plans, handle.id, instant), handle)
            result.timings["record"] = time.perf_counter() - t0
            result.applied = apply_open(store, loaded, result, progress)
            result.timings["apply"] = result.applied.seconds
            status = "done_with_failures" if result.applied.failed else "done"
            store.finish_run(handle, status, intents_done=result.applied.done,
                             intents_failed=result.applied.failed,
                             timings=json.dumps({k: round(v, 3)
                                                 for k, v in result.timings.items()}))
    except BaseException as exc:
        if handle is not None and store is not None:
            store.finish_run(handle, "failed", error=(str(exc) or type(exc).__name__)[:2000])
        raise
    finally:
        if store is not None:
            store.dispose()
    return result


def plan_actions(loaded: LoadedRuleset, result: RunResult, store: StateStore | None
                 ) -> list[ActionPlan]:
    import ibis

    table = ibis.memtable(result.table)
    events = ibis.memtable(result.events) if result.events is not None else None
    inp = PlanInput(loaded.name, result.as_of, table, events, result.table,
                    loaded.model.tier_ids(), store)
    plans = []
    for action in loaded.actions:
        if not isinstance(action, TierAction):
            continue
        intents = action.plan(inp)
        known = len(store.existing_keys(i.key for i in intents)) if store is not None else 0
        plans.append(ActionPlan(action, intents, known))
    return plans


def ledger_rows(plans: list[ActionPlan], run_id: int, as_of: dt.datetime) -> pa.Table:
    import pyarrow as pa

    from tiers.store.store import utcnow

    intents = [i for p in plans for i in p.intents]
    now = utcnow()
    n = len(intents)
    ts = pa.timestamp("us")
    return pa.table({
        "key": pa.array([i.key for i in intents], pa.string()),
        "ruleset": pa.array([p.action.context.ruleset.name for p in plans
                             for _ in p.intents], pa.string()),
        "action": pa.array([i.action for i in intents], pa.string()),
        "action_type": pa.array([i.action_type for i in intents], pa.string()),
        "customer_id": pa.array([i.customer_id for i in intents], pa.string()),
        "event": pa.array([i.event for i in intents], pa.string()),
        "detail": pa.array([i.detail for i in intents], pa.string()),
        "period": pa.array([i.period for i in intents], pa.string()),
        "status": pa.repeat(pa.scalar("pending"), n),
        "attempts": pa.repeat(pa.scalar(0, pa.int32()), n),
        "payload": pa.array([json.dumps(i.payload, ensure_ascii=False, default=str)
                             for i in intents], pa.string()),
        "planned_run": pa.repeat(pa.scalar(run_id, pa.int32()), n),
        "created_at": pa.repeat(pa.scalar(now, ts), n),
        "updated_at": pa.repeat(pa.scalar(now, ts), n),
    })


def apply_open(store: StateStore, loaded: LoadedRuleset, result: RunResult, progress: Any
               ) -> Any:
    from tiers.core.apply import ApplyContext, apply

    handle = result.run
    ctx = ApplyContext(store, handle.id, loaded.name, result.as_of, loaded.file.parent, result)
    planned = {p.action.id: (len(p.intents), p.new) for p in result.plans}
    actions = [a for a in loaded.actions if isinstance(a, TierAction)]
    return apply(store, ctx, actions, planned, progress)
