"""The job: one run of a ruleset, from loaded ruleset to recorded state and applied actions.

    lock -> previous state -> evaluate -> plan actions -> record state + pending intents
    (one transaction) -> apply open intents -> finish the run, release the lock

A dry run reads the previous state if a store exists, plans, and stops: nothing is written.
The engine only evaluates; this module is the one place that runs the whole job.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiers.actions.apply import apply
from tiers.actions.ledger import ledger_rows
from tiers.actions.plan import plan_actions, plan_input
from tiers.core.action import ApplyContext
from tiers.core.asof import off_calendar
from tiers.core.outputs import check_output, dry_run_scope, would_write
from tiers.core.redact import redact_text
from tiers.engine.evaluate import as_of_instant
from tiers.engine.result import RunResult, materialize, write_export

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
    check_calendar(loaded, instant)
    url = state_url(loaded, state)
    inputs = ruleset_inputs(loaded, url)
    # every file the run writes is checked before anything is evaluated, recorded or sent
    target = check_output(out, inputs) if out is not None else None
    for option, path in ruleset_outputs(loaded, instant):
        check_output(path, inputs, option=option)
    if loaded.pm:
        loaded.pm.hook.run_started(ruleset=loaded.model, as_of=instant)
    with dry_run_scope(dry_run) as would:
        store = open_state(loaded, state, dry_run, url)
        result = run_job(loaded, instant, con, store, dry_run, progress,
                         export=target is not None and not dry_run)
        if target is not None and dry_run:
            would_write(f"{result.customers:,} rows to {out}")
        elif target is not None:
            _stage(progress, f"write {out}")
            write_export(result, target)
    result.notes += [f"dry run: would write {what}" for what in would]
    if loaded.pm:
        loaded.pm.hook.run_finished(ruleset=loaded.model, result=result)
    return result


def check_calendar(loaded: LoadedRuleset, instant: dt.datetime) -> None:
    """Refuse, before anything is recorded, a window or day count that would leave the
    calendar at ``instant`` (a window starting before year 1, a horizon after 9999)."""
    roots = [((), loaded.model)]
    roots += [(tuple(c.context.loc), c.config)
              for c in (*loaded.sources.values(), *loaded.policies, *loaded.actions)
              if getattr(c, "context", None) is not None]
    loc = off_calendar(roots, instant)
    if loc is None:
        return
    from tiers.core.errors import Problem, RulesetError
    from tiers.core.locations import render_path

    raise RulesetError([Problem(
        f"at as-of {instant.date().isoformat()} this would reach outside the calendar "
        "(before year 1 or after 9999)", file=loaded.lines.file(loc, str(loaded.file)),
        line=loaded.lines.line(loc), path=render_path(loc),
        hint="shorten it to a plausible length, or give another --as-of")])


def state_url(loaded: LoadedRuleset, state: Any) -> str | None:
    """The URL of the store ``state`` names (None: no store)."""
    if state is None or state is False:
        return None
    if _is_store(state):
        return state.url
    from tiers.store.location import resolve_url

    return resolve_url(loaded.file, loaded.model.state, None if state is True else str(state))


def open_state(loaded: LoadedRuleset, state: Any, dry_run: bool,
               url: str | None = None) -> StateStore | None:
    """The store for ``state`` (None, True, a URL or a StateStore); a dry run never creates
    or upgrades one."""
    if state is None or state is False:
        return None
    if _is_store(state):
        return state
    url = url or state_url(loaded, state) or ""
    from tiers.store.location import sqlite_path

    path = sqlite_path(url)
    if dry_run and path is not None and not path.exists():
        return None  # nothing recorded yet: a dry run reads nothing and creates nothing
    from tiers.store.store import StateStore

    return StateStore(url, create=not dry_run)


def _is_store(state: Any) -> bool:
    # a StateStore exists only once its module (and SQLAlchemy, a fifth of a small dry
    # run) is imported: no need to import them to tell
    module = sys.modules.get("tiers.store.store")
    return module is not None and isinstance(state, module.StateStore)


#: component options that name what a component writes, not what it reads
OUTPUT_OPTIONS = frozenset({"export", "outbox", "rejects"})


def ruleset_inputs(loaded: LoadedRuleset, url: str | None = None) -> list[str]:
    """Every file, folder and glob the job reads: the ruleset and the files it extends, each
    component's paths (sources, pins, rosters, templates, surveys...) and the state store's
    file. An output must never be one of them."""
    from tiers.ruleset.overrides import overrides_path
    from tiers.store.location import sqlite_path

    found = {str(loaded.file)}
    found.update(str(Path(f)) for f in getattr(loaded.lines, "_files", {}).values())
    components = [*loaded.sources.values(), *loaded.policies, *loaded.actions]
    for component in components:
        config = getattr(component, "config", None)
        if config is None or not hasattr(config, "model_dump"):
            continue
        skip = OUTPUT_OPTIONS | ({"path"} if getattr(component, "name", "") == "export"
                                 else set())
        for text in _strings({k: v for k, v in config.model_dump().items() if k not in skip}):
            found.update(_as_input(component.context, text))
    pins = overrides_path(loaded.model, loaded.file, loaded.lines)
    if pins is not None:
        found.add(str(pins))
    # an option such as `decimal: "."` names the ruleset's own folder by accident; a folder
    # that holds the ruleset is never an input folder
    around = {loaded.file.parent.resolve(), *loaded.file.parent.resolve().parents}
    found = {f for f in found if Path(f).resolve() not in around}
    store_file = sqlite_path(url) if url else None
    if store_file is not None:
        found.add(str(store_file.expanduser().absolute()))
    return sorted(found)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _as_input(context: Any, text: str) -> list[str]:
    """``text`` as a path the component reads, if it is one: an existing file or folder, or
    a glob pattern."""
    if not text or "://" in text or "\n" in text or len(text) > 4096:
        return []
    try:
        path = context.resolve(text)
        if any(c in text for c in "*?["):
            return [str(path.absolute())]
        return [str(path)] if path.exists() else []
    except (OSError, ValueError):
        return []


def ruleset_outputs(loaded: LoadedRuleset, instant: dt.datetime) -> list[tuple[str, Path]]:
    """The files the ruleset writes at ``instant`` that can be known before the run (a
    source's own `rejects:` file, coupon exports, export actions to a file), each with the
    YAML path that names it."""
    from tiers.core.locations import render_path

    paths = []
    for source in loaded.sources.values():
        rejects = getattr(getattr(source, "config", None), "rejects", None)
        if isinstance(rejects, str) and rejects:
            paths.append((render_path((*source.context.loc, "rejects")),
                          Path(source.context.resolve(rejects))))
    for action in loaded.actions:
        target = getattr(action, "output_path", None)
        path = target(instant) if callable(target) else None
        if path is not None:
            field = "export" if action.name == "coupon" else "path"
            paths.append((render_path((*action.context.loc, field)), Path(path)))
    return paths


def run_job(loaded: LoadedRuleset, instant: dt.datetime, con: Any,
            store: StateStore | None, dry_run: bool, progress: Progress | None = None,
            *, export: bool = False) -> RunResult:
    """Evaluate, then plan, record and apply as the store and ``dry_run`` allow.
    ``export``: the caller writes the per-customer rows afterwards."""
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
        # recording, planning and exporting read every row: the result is kept for them
        once = handle is None and not loaded.actions and not export
        result = materialize(loaded, instant, con, previous, once=once)
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
            # the runs table is read by anyone with the store: no URL password in it
            error = redact_text(str(exc) or type(exc).__name__)
            store.finish_run(handle, "failed", error=error[:2000])
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
