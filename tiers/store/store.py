"""The SQLAlchemy state store: runs, current tiers, tier history, the action ledger, coupons
and rep assignments."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tiers.store import bulk, lock, snapshot
from tiers.store.errors import StoreError, unusable_store
from tiers.store.location import redact, sqlite_path
from tiers.store.migrations import SCHEMA_VERSION, current_version, migrate
from tiers.store.schema import current_tiers, ledger, runs, secrets, tier_history

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

SEP = "\x1f"  # joins segment labels in one text column
RESUMABLE = ("pending", "sending", "failed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _engine(url: str) -> sa.Engine:
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"state store URL {redact(url)!r} is not usable: {exc}. Use "
                         "sqlite:///path/state.db or postgresql+psycopg://user@host/db") from None
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            # takes effect only while the file is new; 64 KiB pages write a first run's 1M
            # customers 0.2-0.4 s faster, mostly at commit
            cur.execute("PRAGMA page_size=65536")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            if conn.get_execution_options().get(_READING):
                # a reader needs no lock under WAL: `tiers runs` or `history` must not wait
                # for a run that is recording, nor make it wait
                conn.exec_driver_sql("BEGIN")
                return
            # take the write lock up front: no deadlock when two writers upgrade at once
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    return engine


_READING = "tiers_reading"


def reading(engine: sa.Engine) -> sa.Connection:
    """A connection for reads only (``with reading(engine) as conn``): no write lock."""
    return engine.connect().execution_options(**{_READING: True})


@dataclass
class RunHandle:
    id: int
    ruleset: str
    as_of: dt.datetime
    recovered: lock.Holder | None = None


class StateStore:
    """One store, possibly shared by several rulesets (rows are keyed by ruleset name)."""

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        path = sqlite_path(url)
        self.exists = path is None or path.exists()
        if path is not None and path.is_dir():
            raise StoreError(f"the state store {path} is a folder, not a SQLite file\n"
                             "    fix: point --state at a file, e.g. "
                             f"sqlite:///{path / 'state.db'}")
        if path is not None and create:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url)
        self.readonly = not create
        try:
            if create:
                migrate(self.engine, redact(url))
                self.exists = True
            elif self.exists:
                with reading(self.engine) as conn:
                    found = current_version(conn)
                if found is not None and found != SCHEMA_VERSION:
                    raise StoreError(f"the state store {redact(url)} has schema version "
                                     f"{found}; run `tiers run` once (without --dry-run) to "
                                     "upgrade it")
                self.exists = found is not None
        except sa.exc.DatabaseError as exc:
            raise unusable_store(url, exc) from None
        self._previous: dict[str, pa.Table] = {}
        # rulesets whose previous state came from current_tiers row by row: their next
        # record writes a snapshot even when nothing changed
        self._unsnapped: set[str] = set()

    def __repr__(self) -> str:
        return f"StateStore({redact(self.url)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- runs and the lock -------------------------------------------------------------

    def begin_run(self, ruleset: str, content_hash: str, as_of: dt.datetime,
                  tables: Iterable[sa.Table] = ()) -> RunHandle:
        """Take the ruleset's run lock and open a run; ``tables`` are those the ruleset's
        actions keep in the store (created here when missing)."""
        run_id, recovered = lock.acquire(self.engine, ruleset, {
            "ruleset": ruleset, "content_hash": content_hash, "as_of": as_of}, utcnow())
        tables = list(tables)
        if tables:
            try:
                with self.engine.begin() as conn:
                    for table in tables:
                        table.create(conn, checkfirst=True)
            except BaseException:
                lock.release(self.engine, ruleset, run_id)
                raise
        return RunHandle(run_id, ruleset, as_of, recovered)

    def finish_run(self, handle: RunHandle, status: str, error: str | None = None,
                   **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == handle.id).values(
                status=status, finished_at=utcnow(), error=error, **values))
        lock.release(self.engine, handle.ruleset, handle.id)

    def last_as_of(self, ruleset: str) -> dt.datetime | None:
        """The as-of of the latest run whose state was recorded."""
        if not self.exists:
            return None
        with reading(self.engine) as conn:
            return conn.execute(sa.select(sa.func.max(runs.c.as_of)).where(
                runs.c.ruleset == ruleset,
                runs.c.status.in_(("recorded", "done", "done_with_failures", "abandoned")),
                runs.c.changed.is_not(None))).scalar()

    def list_runs(self, ruleset: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        if not self.exists:
            return []
        q = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if ruleset:
            q = q.where(runs.c.ruleset == ruleset)
        with reading(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def unlock(self, ruleset: str) -> lock.Holder | None:
        return lock.unlock(self.engine, ruleset, utcnow())

    # ---- previous state -----------------------------------------------------------------

    def previous_arrow(self, ruleset: str) -> pa.Table | None:

        if ruleset in self._previous:
            return self._previous[ruleset]
        if not self.exists:
            return None
        with reading(self.engine) as conn:
            table = snapshot.read(conn, ruleset)
            if table is None:
                table = bulk.read_current(conn, ruleset)
                self._unsnapped.add(ruleset)
        if table.num_rows == 0:
            return None
        self._previous[ruleset] = table
        return table

    def previous(self, ruleset_name: str, con: Any = None) -> ir.Table | None:
        """The state after the last recorded run, with PREVIOUS_STATE_SCHEMA, as an Ibis
        in-memory table usable on ``con``; None before the first run."""
        import ibis

        table = self.previous_arrow(ruleset_name)
        if table is None:
            return None
        # the segments are split by the engine: in Arrow that cost 0.9 s at 1M customers
        t = ibis.memtable(table)
        text = t.segments_text.fill_null("")
        segments = ibis.cases((text == "", ibis.literal([], "array<string>")),
                              else_=text.split(SEP))
        return t.select("customer_id", "tier", "tier_rank", "since", "held_until",
                        segments=segments)

    # ---- recording a run -------------------------------------------------------------------

    def record(self, result: Any, intents: pa.Table | None = None,
               handle: RunHandle | None = None) -> dict[str, int]:
        """Write the run's state, tier changes and pending intents in one transaction."""
        from tiers.store.diff import Staged, state_changes

        handle = handle or result.run
        prev = self.previous_arrow(handle.ruleset)
        stored = result.stored() if hasattr(result, "stored") else None
        source = Staged(*stored) if stored is not None else result.table
        upserts, history = state_changes(source, prev, handle.as_of, handle.id, handle.ruleset)
        dialect = self.engine.dialect.name
        snap = upserts.num_rows > 0 or handle.ruleset in self._unsnapped
        # the history and the snapshot are prepared in a thread while current_tiers is
        # written: DuckDB, Arrow and the database drivers release the GIL, and a first run's
        # rows cost as much to prepare as to write
        with ThreadPoolExecutor(max_workers=1) as pool:
            later_history = pool.submit(bulk.prepare, dialect, tier_history, history)
            later_state = pool.submit(_encoded_state, prev, upserts) if snap else None
            write_current = bulk.prepare(
                dialect, current_tiers, upserts, conflict=("ruleset", "customer_id"),
                update=("tier", "tier_rank", "since", "held_until", "segments", "updated_run"))
            with self.engine.begin() as conn:
                write_current(conn)
                later_history.result()(conn)
                if later_state is not None:
                    snapshot.write(conn, handle.ruleset, *later_state.result())
                new_intents = _write_intents(conn, intents, handle.id)
                conn.execute(runs.update().where(runs.c.id == handle.id).values(
                    status="recorded", customers=result_rows(result), changed=upserts.num_rows,
                    intents_planned=new_intents, events=json.dumps(result.event_counts)))
        self._previous.pop(handle.ruleset, None)
        self._unsnapped.discard(handle.ruleset)
        return {"changed": upserts.num_rows, "history": history.num_rows,
                "new_intents": new_intents}

    # ---- the ledger ------------------------------------------------------------------------

    def resumable(self, ruleset: str) -> list[dict[str, Any]]:
        """Intents not done yet (pending, in flight when a run stopped, or failed)."""
        q = sa.select(ledger).where(ledger.c.ruleset == ruleset,
                                    ledger.c.status.in_(RESUMABLE)).order_by(
            ledger.c.action, ledger.c.customer_id, ledger.c.key)
        with reading(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def existing_keys(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        found: set[str] = set()
        if not self.exists:
            return found
        with reading(self.engine) as conn:
            for i in range(0, len(keys), 5000):
                chunk = keys[i:i + 5000]
                found.update(conn.execute(sa.select(ledger.c.key).where(
                    ledger.c.key.in_(chunk))).scalars())
        return found

    def mark(self, conn: sa.Connection, key: str, status: str, run_id: int,
             error: str | None = None, result: Any = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": utcnow(), "error": error}
        if status in ("done", "failed"):
            values["attempts"] = ledger.c.attempts + 1
        if status == "done":
            values["done_run"] = run_id
        if result is not None:
            values["result"] = json.dumps(result, default=str, ensure_ascii=False)
        conn.execute(ledger.update().where(ledger.c.key == key).values(**values))

    def ledger_rows(self, ruleset: str, *, action: str | None = None,
                    period: str | None = None, run: int | None = None,
                    status: str | None = None, conn: sa.Connection | None = None
                    ) -> list[dict[str, Any]]:
        """Ledger rows of ``ruleset`` filtered by the arguments given, ``result`` parsed from
        JSON, in the order they were planned."""
        q = sa.select(ledger).where(ledger.c.ruleset == ruleset)
        if action is not None:
            q = q.where(ledger.c.action == action)
        if period is not None:
            q = q.where(ledger.c.period == period)
        if run is not None:
            q = q.where(ledger.c.planned_run == run)
        if status is not None:
            q = q.where(ledger.c.status == status)
        q = q.order_by(ledger.c.planned_run, ledger.c.action, ledger.c.customer_id,
                       ledger.c.key)
        if conn is not None:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        else:
            with reading(self.engine) as c:
                rows = [dict(r._mapping) for r in c.execute(q)]
        for row in rows:
            row["result"] = json.loads(row["result"]) if row["result"] else None
            row["payload"] = json.loads(row["payload"]) if row["payload"] else {}
        return rows

    def append_rows(self, table: str, rows: pa.Table, *, url: str | None = None,
                    conn: sa.Connection | None = None) -> None:
        """Append Arrow ``rows`` to the table ``table``, creating it from their schema; in
        ``conn`` (a transaction of this store) or, with ``url``, in another database."""
        md = sa.MetaData()
        target = sa.Table(table, md, *[sa.Column(f.name, bulk.sql_type(f.type))
                                       for f in rows.schema])
        if url is not None:
            engine = sa.create_engine(url)
            try:
                with engine.begin() as c:
                    md.create_all(c)
                    bulk.write(c, target, rows)
            finally:
                engine.dispose()
        elif conn is not None:
            md.create_all(conn)
            bulk.write(conn, target, rows)
        else:
            with self.engine.begin() as c:
                md.create_all(c)
                bulk.write(c, target, rows)

    def ledger_for(self, customer_id: str, ruleset: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(ledger).where(ledger.c.customer_id == customer_id).order_by(
            ledger.c.created_at, ledger.c.action)
        if ruleset:
            q = q.where(ledger.c.ruleset == ruleset)
        with reading(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def history_for(self, customer_id: str, ruleset: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(tier_history).where(tier_history.c.customer_id == customer_id).order_by(
            tier_history.c.at, tier_history.c.id)
        if ruleset:
            q = q.where(tier_history.c.ruleset == ruleset)
        with reading(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def current_for(self, customer_id: str, ruleset: str | None = None
                    ) -> list[dict[str, Any]]:
        q = sa.select(current_tiers).where(current_tiers.c.customer_id == customer_id)
        if ruleset:
            q = q.where(current_tiers.c.ruleset == ruleset)
        with reading(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # ---- secrets -----------------------------------------------------------------------------

    def secret(self, name: str) -> str:
        """A random secret kept in the store, created on first use."""
        import secrets as pysecrets

        with self.engine.begin() as conn:
            value = conn.execute(sa.select(secrets.c.value).where(
                secrets.c.name == name)).scalar()
            if value is None:
                value = pysecrets.token_hex(32)
                conn.execute(secrets.insert().values(name=name, value=value,
                                                     created_at=utcnow()))
        return value


def _encoded_state(prev: pa.Table | None, upserts: pa.Table) -> tuple[int, bytes]:
    return snapshot.encode(snapshot.merged(prev, upserts))


def _write_intents(conn: sa.Connection, intents: pa.Table | None, run_id: int) -> int:
    """Write the run's intents; how many the run planned that were not there before."""
    if intents is None or not intents.num_rows:
        return 0
    # an intent still open takes the fresh plan's payload (fixed data or template); one done
    # or in flight keeps what was sent
    bulk.write(conn, ledger, intents, conflict=("key",), update=("payload", "updated_at"),
               where="{table}.status IN ('pending', 'failed')")
    return conn.execute(sa.select(sa.func.count()).select_from(ledger).where(
        ledger.c.planned_run == run_id)).scalar() or 0


def result_rows(result: Any) -> int:
    """Customers in a run's result, counted by the engine when it did (no fetch needed)."""
    customers = getattr(result, "customers", None)
    return customers if isinstance(customers, int) else result.table.num_rows


def previous_state_table(table: pa.Table) -> pa.Table:
    """Arrow with exactly PREVIOUS_STATE_SCHEMA (segments split back into a list)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = table["segments_text"]
    # "" means no segment: split NULL instead, then fill with an empty list
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    segments = pc.fill_null(pc.split_pattern(text, SEP), pa.scalar([], pa.list_(pa.string())))
    return pa.table({
        "customer_id": table["customer_id"], "tier": table["tier"],
        "tier_rank": table["tier_rank"], "since": table["since"],
        "held_until": table["held_until"],
        "segments": segments.cast(pa.list_(pa.string())),
    })
