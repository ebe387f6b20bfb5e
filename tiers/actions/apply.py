"""Apply: carry out the ledger's open intents, each exactly once.

The plan's intents were written to the ledger as ``pending`` in the run's state transaction.
Here every open intent of the ruleset (pending, in flight when an earlier run stopped, or
failed) is handed to its action's :meth:`~tiers.core.action.Action.apply` in batches; each
outcome is recorded as it comes, and one failure never stops the others.

Exactly once: a store-only effect (coupon, rep assignment) commits in the same transaction
that marks its intents done. For an external effect (mail, webhook, an outside plugin's call)
the framework records the intent as ``sending`` and commits the moment the action takes it
from its batch, and records ``done`` right after the outcome; an intent found in ``sending``
was interrupted between the two and is handed over again with the same key (Message-ID,
Idempotency-Key), which receivers use to drop the copy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tiers.core.action import Action, ApplyContext, Intent, Outcome

if TYPE_CHECKING:
    import sqlalchemy as sa

    from tiers.store.store import StateStore


class Progress(Protocol):
    def start(self, label: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def stop(self) -> None: ...


class Quiet:
    """No progress at all (tests, library use)."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class ActionStats:
    action: str
    type: str
    planned: int = 0     # intents this run's plan produced
    new: int = 0         # of which not in the ledger before
    resumed: int = 0     # open intents from earlier runs
    done: int = 0
    failed: int = 0
    deferred: int = 0    # left pending on purpose (budget cap...)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ApplySummary:
    actions: list[ActionStats]
    orphans: dict[str, int] = field(default_factory=dict)  # open intents of removed actions
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(a.failed for a in self.actions)

    @property
    def done(self) -> int:
        return sum(a.done for a in self.actions)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def apply(store: StateStore, ctx: ApplyContext, actions: list[Action],
          planned: dict[str, tuple[int, int]], progress: Progress | None = None
          ) -> ApplySummary:
    """Execute every open intent of ``ctx.ruleset``. ``planned`` maps action id to (planned,
    new) counts of this run's plan, for the summary."""
    started = time.perf_counter()
    progress = progress or Quiet()
    open_rows = store.resumable(ctx.ruleset)
    by_action: dict[str, list[Intent]] = {}
    for row in open_rows:
        by_action.setdefault(row["action"], []).append(Intent.from_ledger(row))
    summary = ApplySummary([])
    for action in actions:
        todo = by_action.pop(action.id, [])
        n_planned, n_new = planned.get(action.id, (0, 0))
        stats = ActionStats(action.id, action.name, planned=n_planned, new=n_new,
                            resumed=len([i for i in todo if i.planned_run != ctx.run_id]))
        summary.actions.append(stats)
        if not todo:
            continue
        progress.start(action.id, len(todo))
        try:
            _run_action(store, ctx, action, todo, stats, progress)
        finally:
            progress.stop()
        again = sum(1 for i in todo if i.status == "sending")
        if again:
            stats.notes.append(f"{again} were in flight when an earlier run stopped; "
                               "sent again with the same idempotency key")
    summary.orphans = {k: len(v) for k, v in by_action.items()}
    summary.seconds = time.perf_counter() - started
    return summary


def _record(store: StateStore, conn: sa.Connection, ctx: ApplyContext, out: Outcome,
            stats: ActionStats) -> None:
    if out.status == "done":
        store.mark(conn, out.key, "done", ctx.run_id, result=out.result)
        stats.done += 1
    elif out.status == "deferred":
        store.mark(conn, out.key, "pending", ctx.run_id, error=out.error)
        stats.deferred += 1
    else:
        store.mark(conn, out.key, "failed", ctx.run_id, error=out.error)
        stats.failed += 1
        if out.error and out.error not in stats.errors and len(stats.errors) < 5:
            stats.errors.append(out.error)


def _fail_all(store: StateStore, ctx: ApplyContext, intents: list[Intent], error: str,
              stats: ActionStats) -> None:
    with store.engine.begin() as conn:
        for intent in intents:
            _record(store, conn, ctx, Outcome(intent.key, "failed", error=error), stats)


def _run_action(store: StateStore, ctx: ApplyContext, action: Action,
                todo: list[Intent], stats: ActionStats, progress: Progress) -> None:
    try:
        action.start(ctx)
    except Exception as exc:
        _fail_all(store, ctx, todo, _short(exc), stats)
        progress.advance(len(todo))
        return
    try:
        for i in range(0, len(todo), action.batch_size):
            batch = todo[i:i + action.batch_size]
            if action.external:
                _external_batch(store, ctx, action, batch, stats, progress)
            else:
                _store_batch(store, ctx, action, batch, stats, progress)
    finally:
        try:
            stats.notes += action.finish(ctx)
        except Exception as exc:
            stats.notes.append(f"finishing failed: {_short(exc)}")


class InFlight:
    """A batch handed to an external action: each intent is recorded as ``sending`` (and
    committed) at the moment the action takes it, just before its effect."""

    def __init__(self, store: StateStore, ctx: ApplyContext, batch: list[Intent]):
        self._store, self._ctx, self._batch = store, ctx, batch
        self.taken: list[Intent] = []

    def __len__(self) -> int:
        return len(self._batch)

    def __iter__(self) -> Iterator[Intent]:
        for intent in self._batch:
            if intent not in self.taken:
                with self._store.engine.begin() as conn:
                    self._store.mark(conn, intent.key, "sending", self._ctx.run_id)
                self.taken.append(intent)
            yield intent


def _external_batch(store: StateStore, ctx: ApplyContext, action: Action,
                    batch: list[Intent], stats: ActionStats, progress: Progress) -> None:
    seen: set[str] = set()
    wanted = {i.key for i in batch}
    try:
        for out in action.apply(InFlight(store, ctx, batch), ctx):
            if out.key not in wanted or out.key in seen:
                raise RuntimeError(f"action {action.id!r} gave an outcome for "
                                   f"{'an unknown' if out.key not in wanted else 'the same'} "
                                   f"key {out.key!r}; yield one Outcome per intent")
            with store.engine.begin() as conn:
                _record(store, conn, ctx, out, stats)
            seen.add(out.key)
            progress.advance()
    except Exception as exc:
        rest = [i for i in batch if i.key not in seen]
        _fail_all(store, ctx, rest, _short(exc), stats)
        progress.advance(len(rest))
        return
    missing = [i for i in batch if i.key not in seen]
    if missing:
        _fail_all(store, ctx, missing, f"action {action.id!r} gave no outcome for this "
                  "intent; apply() must yield one Outcome per intent", stats)
        progress.advance(len(missing))


def _store_batch(store: StateStore, ctx: ApplyContext, action: Action,
                 batch: list[Intent], stats: ActionStats, progress: Progress) -> None:
    outcomes: list[Outcome] = []
    try:
        with store.engine.begin() as conn:
            ctx.conn = conn
            outcomes = list(action.apply(batch, ctx))
            scratch = ActionStats(action.id, action.name)
            for out in outcomes:
                _record(store, conn, ctx, out, scratch)
    except Exception as exc:
        # the batch's effects rolled back with it: nothing happened, all failed
        _fail_all(store, ctx, batch, _short(exc), stats)
        progress.advance(len(batch))
        return
    finally:
        ctx.conn = None
    stats.done += scratch.done
    stats.failed += scratch.failed
    stats.deferred += scratch.deferred
    stats.errors += [e for e in scratch.errors if e not in stats.errors][:5]
    progress.advance(len(batch))
