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

Circuit breaker: after ``stop_after_failures`` failed intents in a row (default 5), an action
stops for this run. It takes no more intents; those it has not taken stay as they are in the
ledger (pending, or failed from an earlier run) and the next run resumes them. A dead
endpoint then costs a few requests and seconds, not a retry cycle per intent while the run
holds the lock. Failures an action marks as the intent's own (a bad address) do not count.

Every error is redacted (URL passwords, secret query values) before it is shown or stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tiers.core.action import (
    DEFAULT_STOP_AFTER_FAILURES,
    Action,
    ApplyContext,
    Intent,
    Outcome,
)
from tiers.core.redact import redact_text

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
    stopped: int = 0     # left untouched after the circuit breaker stopped the action
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

    @property
    def stopped(self) -> int:
        """Intents left for the next run because their action stopped: the run is not
        complete."""
        return sum(a.stopped for a in self.actions)


def _short(exc: BaseException) -> str:
    text = redact_text(str(exc).strip() or type(exc).__name__)
    return text if len(text) < 300 else text[:297] + "..."


class Breaker:
    """Counts failed outcomes in a row; open after ``limit`` of them (0: never)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.run = 0

    def see(self, out: Outcome) -> None:
        if out.status == "done":
            self.run = 0
        elif out.status == "failed" and not out.own_fault:
            self.run += 1

    @property
    def open(self) -> bool:
        return self.limit > 0 and self.run >= self.limit


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
    if out.error:
        out.error = redact_text(out.error)
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
    breaker = Breaker(getattr(action.config, "stop_after_failures",
                              DEFAULT_STOP_AFTER_FAILURES))
    handled = 0
    try:
        for i in range(0, len(todo), action.batch_size):
            batch = todo[i:i + action.batch_size]
            if action.external:
                handled += _external_batch(store, ctx, action, batch, stats, progress,
                                           breaker)
            else:
                handled += _store_batch(store, ctx, action, batch, stats, progress, breaker)
            if breaker.open:
                break
        if breaker.open and handled < len(todo):
            stats.stopped = len(todo) - handled
            progress.advance(stats.stopped)
            stats.notes.append(
                f"{action.name} stopped after {breaker.run} consecutive failures; "
                f"{stats.stopped:,} intents left pending for the next run")
    finally:
        try:
            stats.notes += action.finish(ctx)
        except Exception as exc:
            stats.notes.append(f"finishing failed: {_short(exc)}")


class InFlight:
    """A batch handed to an external action: each intent is recorded as ``sending`` (and
    committed) at the moment the action takes it, just before its effect."""

    def __init__(self, store: StateStore, ctx: ApplyContext, batch: list[Intent],
                 breaker: Breaker | None = None):
        self._store, self._ctx, self._batch = store, ctx, batch
        self._breaker = breaker
        self.taken: list[Intent] = []

    def __len__(self) -> int:
        return len(self._batch)

    def __iter__(self) -> Iterator[Intent]:
        for intent in self._batch:
            if self._breaker is not None and self._breaker.open:
                return  # the action stops: what it has not taken stays for the next run
            if intent not in self.taken:
                with self._store.engine.begin() as conn:
                    self._store.mark(conn, intent.key, "sending", self._ctx.run_id)
                self.taken.append(intent)
            yield intent


def _external_batch(store: StateStore, ctx: ApplyContext, action: Action,
                    batch: list[Intent], stats: ActionStats, progress: Progress,
                    breaker: Breaker) -> int:
    """Apply one batch; returns how many of its intents were handled (all of them, unless
    the breaker stopped the action part way)."""
    seen: set[str] = set()
    wanted = {i.key for i in batch}
    inflight = InFlight(store, ctx, batch, breaker)
    try:
        for out in action.apply(inflight, ctx):
            if out.key not in wanted or out.key in seen:
                raise RuntimeError(f"action {action.id!r} gave an outcome for "
                                   f"{'an unknown' if out.key not in wanted else 'the same'} "
                                   f"key {out.key!r}; yield one Outcome per intent")
            with store.engine.begin() as conn:
                _record(store, conn, ctx, out, stats)
            breaker.see(out)
            seen.add(out.key)
            progress.advance()
    except Exception as exc:
        rest = [i for i in _owed(batch, inflight, breaker) if i.key not in seen]
        _fail_all(store, ctx, rest, _short(exc), stats)
        for _ in rest:
            breaker.see(Outcome("", "failed"))
        progress.advance(len(rest))
        return len(seen) + len(rest)
    missing = [i for i in _owed(batch, inflight, breaker) if i.key not in seen]
    if missing:
        _fail_all(store, ctx, missing, f"action {action.id!r} gave no outcome for this "
                  "intent; apply() must yield one Outcome per intent", stats)
        progress.advance(len(missing))
    return len(seen) + len(missing)


def _owed(batch: list[Intent], inflight: InFlight, breaker: Breaker) -> list[Intent]:
    """The intents of a batch that need an outcome: all of them, or, once the breaker has
    stopped the action, only those it took."""
    return list(inflight.taken) if breaker.open else batch


def _store_batch(store: StateStore, ctx: ApplyContext, action: Action,
                 batch: list[Intent], stats: ActionStats, progress: Progress,
                 breaker: Breaker) -> int:
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
        for _ in batch:
            breaker.see(Outcome("", "failed"))
        progress.advance(len(batch))
        return len(batch)
    finally:
        ctx.conn = None
    for out in outcomes:
        breaker.see(out)
    stats.done += scratch.done
    stats.failed += scratch.failed
    stats.deferred += scratch.deferred
    stats.errors += [e for e in scratch.errors if e not in stats.errors][:5]
    progress.advance(len(batch))
    return len(batch)
