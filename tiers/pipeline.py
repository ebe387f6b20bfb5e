"""The job: one run of a ruleset, from loaded ruleset to recorded state and applied actions.

    lock -> previous state -> evaluate -> plan actions -> record state + pending intents
    (one transaction) -> apply open intents -> finish the run, release the lock

A dry run reads the previous state if a store exists, plans, and stops: nothing is written.
The engine only evaluates; this module is the one place that runs the whole job.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.actions.apply import apply
from tiers.actions.ledger import ledger_rows
from tiers.actions.plan import plan_actions, plan_input
from tiers.core.action import ApplyContext
from tiers.core.files import write_table
from tiers.engine.evaluate import as_of_instant
from tiers.engine.result import RunResult, materialize, table_for_export

if TYPE_CHECKING:
    from tiers.actions.apply import ApplySummary, Progress
    from tiers.ruleset.loader import LoadedRuleset
    from tiers.store.store import StateStore


def run(loaded: LoadedRuleset, as_of: Any = None, out: str | Path | None = None,
        con: Any = None, *, state: Any = None, dry_run: bool = False,
        progress: Progress | None = None) -> RunResult:
    """Evaluate ``loaded`` and materialise the result once; optionally write ``out``.

    :param state: the state store: None (none: nothing is read, recorded or applied), True
        (the ruleset's store, see docs/state-store.md), a URL, or a
        :class:`tiers.store.store.StateStore`. With a store the previous run's state is read,
        then the actions are planned, the state and intents recorded, and the intents applied.
    :param dry_run: compute everything and plan the actions, but write nothing anywhere.
    :param progress: reports the apply step (:class:`tiers.cli.progress.Progress` on a
        terminal); quiet when None.
    """
    instant = as_of_instant(as_of if as_of is not None else loaded.model.as_of)
    if loaded.pm:
        loaded.pm.hook.run_started(ruleset=loaded.model, as_of=instant)
    store = open_state(loaded, state, dry_run)
    result = run_job(loaded, instant, con, store, dry_run, progress)
    if out is not None:
        _stage(progress, f"write {out}")
        write_table(table_for_export(result), Path(out))
    if loaded.pm:
        loaded.pm.hook.run_finished(ruleset=loaded.model, result=result)
    return result


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


def run_job(loaded: LoadedRuleset, instant: dt.datetime, con: Any,
            store: StateStore | None, dry_run: bool, progress: Progress | None = None
            ) -> RunResult:
    from tiers.engine.backends import connect

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
        handle = store.begin_run(loaded.name, loaded.content_hash, instant,
                                 tables=[t for a in loaded.actions for t in a.tables()])
        if handle.recovered is not None:
            h = handle.recovered
            notes.append(f"took over the lock of run {h.run_id} (pid {h.pid} has stopped); "
                         "its open intents are resumed below")
    try:
        _stage(progress, "load sources")
        con = con if con is not None else connect(loaded.model.engine)
        t0 = time.perf_counter()
        previous = store.previous(loaded.name, con) if store and not backdated else None
        load_previous = time.perf_counter() - t0
        _stage(progress, "evaluate")
        result = materialize(loaded, instant, con, previous)
        result.timings["previous"] = load_previous
        result.notes += notes
        result.dry_run = dry_run
        result.store_url = store.url if store is not None else None
        inputs = None
        if loaded.actions and (store is not None or dry_run) and not backdated:
            _stage(progress, "plan")
            t0 = time.perf_counter()
            inputs = plan_input(loaded.name, result.as_of, result.evaluation, result.table,
                                store)
            result.plans = plan_actions(loaded, inputs, store)
            result.timings["plan"] = time.perf_counter() - t0
        if handle is not None:
            assert store is not None
            from tiers.store.store import utcnow

            result.run = handle
            _stage(progress, "record")
            t0 = time.perf_counter()
            store.record(result, ledger_rows(result.plans, loaded.name, handle.id, utcnow()),
                         handle)
            result.timings["record"] = time.perf_counter() - t0
            result.applied = apply_open(store, loaded, result, inputs, progress)
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


def _stage(progress: Any, name: str) -> None:
    """Tell a progress display the job's next step (displays without stages are skipped)."""
    stage = getattr(progress, "stage", None)
    if stage is not None:
        stage(name)


def apply_open(store: StateStore, loaded: LoadedRuleset, result: RunResult, inputs: Any,
               progress: Progress | None) -> ApplySummary:
    """Carry out every open intent of the ruleset: this run's and those left by earlier ones."""
    handle = result.run
    ctx = ApplyContext(store, handle.id, loaded.name, result.as_of, loaded.file.parent, result,
                       inputs=inputs)
    planned = {p.action.id: (len(p.intents), p.new) for p in result.plans}
    return apply(store, ctx, loaded.actions, planned, progress)
