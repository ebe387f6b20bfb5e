"""One active run per ruleset and store: a lock row, which works the same on SQLite and
PostgreSQL (an advisory lock would not survive on SQLite and dies with a pooled connection).

The row is committed on its own so every other process sees it at once. A second run fails
at once with :class:`RunLockedError`. A run killed without cleanup leaves its row behind: the
next run on the same host notices the process is gone and takes the lock over.

``tiers runs --unlock RULESET`` removes a lock by hand, and refuses to break a live run: a lock
whose process is alive on this host stays, and one held on another host (whose processes tiers
cannot see) needs ``--force`` once you have checked there that the run is gone. ``--force``
also frees a lock whose pid is alive here but belongs to another program (a reused pid).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

import sqlalchemy as sa

from tiers.store.errors import RunLockedError
from tiers.store.schema import run_locks, runs


@dataclass
class Holder:
    ruleset: str
    run_id: int
    pid: int
    host: str
    acquired_at: dt.datetime


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a killed child that its parent has not reaped yet is still listed: a zombie is dead
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def holder(conn: sa.Connection, ruleset: str) -> Holder | None:
    row = conn.execute(sa.select(run_locks).where(run_locks.c.ruleset == ruleset)).first()
    return Holder(row.ruleset, row.run_id, row.pid, row.host, row.acquired_at) if row else None


def is_stale(h: Holder) -> bool:
    return h.host == socket.gethostname() and not pid_alive(h.pid)


def acquire(engine: sa.Engine, ruleset: str, run: dict, now: dt.datetime
            ) -> tuple[int, Holder | None]:
    """Create the run row ``run`` and take the lock for it, in one transaction; returns the
    run id and the stale holder replaced, if any."""
    me = {"ruleset": ruleset, "pid": os.getpid(), "host": socket.gethostname(),
          "acquired_at": now}
    with engine.begin() as conn:
        h = holder(conn, ruleset)
        if h is not None and not is_stale(h):
            raise RunLockedError(
                f"another run of ruleset {ruleset!r} is active against this store "
                f"(run {h.run_id}, pid {h.pid} on {h.host}, started "
                f"{h.acquired_at:%Y-%m-%d %H:%M:%S} UTC). Wait for it to finish. "
                + (f"If pid {h.pid} is not a tiers run (a reused number), run "
                   if h.host == me["host"] else "If that process is gone, run ")
                + f"`tiers runs --unlock {ruleset} --force` and then `tiers run` again")
        if h is not None:
            conn.execute(run_locks.delete().where(run_locks.c.ruleset == ruleset))
            conn.execute(runs.update().where(runs.c.id == h.run_id, runs.c.status.in_(
                ("running", "recorded"))).values(status="abandoned", finished_at=now,
                                                 error="process stopped; lock recovered"))
        run_id = conn.execute(runs.insert().values(
            **run, status="running", started_at=now, pid=me["pid"], host=me["host"])
        ).inserted_primary_key[0]
        try:
            conn.execute(run_locks.insert().values(**me, run_id=run_id))
        except sa.exc.IntegrityError:
            # another process inserted between our read and write
            raise RunLockedError(f"another run of ruleset {ruleset!r} has just started "
                                 "against this store; wait for it to finish") from None
    return run_id, h


def release(engine: sa.Engine, ruleset: str, run_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(run_locks.delete().where(run_locks.c.ruleset == ruleset,
                                              run_locks.c.run_id == run_id))


def unlock_refusal(h: Holder) -> str | None:
    """Why ``tiers runs --unlock`` without ``--force`` leaves the lock of ``h``, or None."""
    started = f"{h.acquired_at:%Y-%m-%d %H:%M:%S} UTC"
    if h.host == socket.gethostname():
        if not pid_alive(h.pid):
            return None
        return (f"run {h.run_id} of ruleset {h.ruleset!r} is still running: pid {h.pid} on "
                f"this host ({h.host}) holds its lock since {started}. Removing the lock "
                "would let a second run send the same mail and webhooks again. Wait for it "
                f"to finish, or stop it (kill {h.pid}); a run stopped that way frees its lock "
                f"at the next run. Only if pid {h.pid} is not a tiers run (the number was "
                f"reused), run `tiers runs --unlock {h.ruleset} --force`")
    return (f"run {h.run_id} of ruleset {h.ruleset!r} holds its lock from pid {h.pid} on "
            f"host {h.host} since {started}; tiers cannot see the processes of another host. "
            f"Check on {h.host} that pid {h.pid} is gone, then run "
            f"`tiers runs --unlock {h.ruleset} --force`")


def unlock(engine: sa.Engine, ruleset: str, now: dt.datetime, force: bool = False
           ) -> Holder | None:
    """Remove a lock by hand (``tiers runs --unlock``) and mark its run abandoned. Without
    ``force``, raises :class:`RunLockedError` for a lock that may belong to a live run."""
    with engine.begin() as conn:
        h = holder(conn, ruleset)
        if h is None:
            return None
        why = None if force else unlock_refusal(h)
        if why is not None:
            raise RunLockedError(why)
        conn.execute(run_locks.delete().where(run_locks.c.ruleset == ruleset,
                                              run_locks.c.run_id == h.run_id))
        conn.execute(runs.update().where(runs.c.id == h.run_id, runs.c.status.in_(
            ("running", "recorded"))).values(status="abandoned", finished_at=now,
                                             error="lock removed by tiers runs --unlock"))
    return h
