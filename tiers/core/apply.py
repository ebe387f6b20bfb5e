"""Apply: carry out the ledger's open intents, each exactly once.

The plan's intents were written to the ledger as ``pending`` in the run's state transaction.
Here every open intent of the ruleset (pending, in flight when an earlier run stopped, or
failed) is executed action by action in batches; each is marked ``done`` or ``failed`` with its
error, and one failure never stops the others.

Exactly once: a store-only effect (coupon, rep assignment, export) commits in the same
transaction that marks its intents done. An external effect (mail, webhook) is marked
``sending`` and committed just before it happens and ``done`` right after; an intent found in
``sending`` was interrupted between the two and is sent again with the same Message-ID or
Idempotency-Key, which receivers use to drop the copy.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.core.actions import Intent, Outcome, TierAction

if TYPE_CHECKING:
    import sqlalchemy as sa

    from tiers.store.store import StateStore


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


@dataclass
class ApplyContext:
    store: StateStore
    run_id: int
    ruleset: str
    as_of: dt.datetime
    base_dir: Any
    result: Any = None                 # the RunResult (exports read it)
    conn: sa.Connection | None = None  # the batch transaction of store-only actions
    sent_again: int = 0

    def begin(self, intent: Intent) -> None:
        """Record that ``intent``'s external effect is about to happen."""
        if intent.status == "sending":
            self.sent_again += 1
        with self.store.engine.begin() as conn:
            self.store.mark(conn, intent.key, "sending", self.run_id)
        intent.status = "sending"

    def secret(self, env_var: str, name: str) -> tuple[str, bool]:
        """A secret from the environment, else one generated once and kept in the store;
        returns (secret, from_environment)."""
        value = os.environ.get(env_var)
        if value:
            return value, True
        return self.store.secret(name), False


class Progress:
    """A rich bar on a terminal; a few plain lines otherwise (CI, pipes)."""

    def __init__(self, enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self.rich = enabled
        self._bar: Any = None
        self._task: Any = None
        self._total = 0
        self._done = 0
        self._next_line = 0
        self._label = ""

    def start(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, total, 0
        self._next_line = 0
        if self.rich:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), console=Console(stderr=True),
                                 transient=True)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)
        else:
            print(f"apply {label}: {total} intents", file=sys.stderr)

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self.rich:
            self._bar.update(self._task, advance=n)
        elif self._total >= 1000 and self._done >= self._next_line:
            print(f"apply {self._label}: {self._done}/{self._total}", file=sys.stderr)
            self._next_line = self._done + max(self._total // 10, 1)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def apply(store: StateStore, ctx: ApplyContext, actions: list[TierAction],
          planned: dict[str, tuple[int, int]], progress: Progress | None = None
          ) -> ApplySummary:
    """Execute every open intent of ``ctx.ruleset``. ``planned`` maps action id to (planned,
    new) counts of this run's plan, for the summary."""
    started = time.perf_counter()
    progress = progress or Progress(False)
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
        ctx.sent_again = 0
        progress.start(action.id, len(todo))
        try:
            _run_action(store, ctx, action, todo, stats, progress)
        finally:
            progress.stop()
        if ctx.sent_again:
            stats.notes.append(f"{ctx.sent_again} were in flight when an earlier run stopped; "
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


def _run_action(store: StateStore, ctx: ApplyContext, action: TierAction,
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


def _external_batch(store: StateStore, ctx: ApplyContext, action: TierAction,
                    batch: list[Intent], stats: ActionStats, progress: Progress) -> None:
    seen: set[str] = set()
    try:
        for out in action.execute(batch, ctx):
            with store.engine.begin() as conn:
                _record(store, conn, ctx, out, stats)
            seen.add(out.key)
            progress.advance()
    except Exception as exc:
        rest = [i for i in batch if i.key not in seen]
        _fail_all(store, ctx, rest, _short(exc), stats)
        progress.advance(len(rest))


def _store_batch(store: StateStore, ctx: ApplyContext, action: TierAction,
                 batch: list[Intent], stats: ActionStats, progress: Progress) -> None:
    outcomes: list[Outcome] = []
    try:
        with store.engine.begin() as conn:
            ctx.conn = conn
            outcomes = list(action.execute(batch, ctx))
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
