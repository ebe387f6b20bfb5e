"""What a customer's tier, segments and events would be with some orders added.

The ruleset's own engine evaluates, never a second implementation of the rules: the sources
the engine reads are views over the tables loaded once (tiers.serve.snapshot), restricted to
one customer and with the hypothetical orders appended to ``orders``; the previous state is
that customer's recorded row. The views read the customer id from a DuckDB variable and the
orders from a small table, so the evaluation is compiled to SQL once per as-of day and each
request only sets the parameters and runs it (compiling the expression costs far more than
running it on one customer).

Policies that compare a customer with everyone else (RFM quintiles, score percentiles or
min-max) cannot be evaluated on one customer's rows: for a ruleset that has one, the views keep
every customer and the query filters its result, which costs a whole evaluation per request.

DuckDB connections are not thread-safe and the parameters are connection state, so each
simulation takes a cursor of its own from a small pool (one per core): a cursor is a connection
to the same in-memory database that sees its tables, with its own variable and its own
temporary tables and views. Compiling is shared, under a lock. Lookups never touch DuckDB.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import queue
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tiers.core import exits
from tiers.core.errors import TiersError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from tiers.serve.engine import Explanation, LoadedRuleset
    from tiers.serve.state import Recorded, RunRef

VARIABLE = "tiers_serve_customer"
NEW_ORDERS = "serve_sim_new_orders"
PREV_ONE = "serve_sim_prev"
PREV_ALL = "serve_prev_state"
RESULT = "serve_sim_result"
PREPARED_KEEP = 8  # as-of days kept compiled
CURSORS = 2  # simulations at once, at most one per core


# the table each source is loaded into once, by tiers.serve.snapshot
SOURCE_TABLE = "serve_src_{role}"

class SimulationError(TiersError):
    """The ruleset cannot simulate orders (no orders source...)."""

    exit_code = exits.USAGE


class SimulatorClosed(Exception):
    """The snapshot was replaced by a newer one while the request waited: run it there."""


@dataclass(frozen=True)
class Order:
    amount: Decimal
    order_ts: dt.datetime


@dataclass
class Simulation:
    customer_id: str
    as_of: dt.datetime
    orders: list[Order]
    explanation: Explanation
    population: bool


@dataclass
class _Prepared:
    as_of: dt.datetime
    sql: str
    events_sql: str
    metric_columns: list[str]
    schema: pa.Schema  # the types the engine declares (DuckDB's own may be wider)
    keep: list[Any]  # the expressions: in-memory tables they use stay registered while alive


def _per_customer_windows_only(table: ir.Table) -> bool:
    """Whether every window of the evaluation is over one customer's rows (then evaluating
    one customer's rows gives that customer's result)."""
    import ibis.expr.operations as ops

    op = table.op()
    if op.find(ops.ScalarSubquery):
        return False
    for win in op.find(ops.WindowFunction):
        if not any(isinstance(g, ops.Field) and g.name == "customer_id" for g in win.group_by):
            return False
    return True


class Simulator:
    """The prepared one-customer evaluation over a snapshot's source tables."""

    def __init__(self, loaded: LoadedRuleset, con: Any, previous: pa.Table | None):
        import threading

        if "orders" not in loaded.sources:
            raise SimulationError(f"{loaded.file}: the ruleset has no `orders` source, so "
                                  "there is nothing to add simulated orders to")
        self.loaded = loaded
        self.con = con
        self.raw = con.con
        self.lock = threading.Lock()  # compiling, on the main connection
        self._prepared: OrderedDict[dt.datetime, _Prepared] = OrderedDict()
        self.source_tables = {role: SOURCE_TABLE.format(role=role) for role in loaded.sources}
        orders = con.table(self.source_tables["orders"])
        self.amount_type = orders.schema()["amount"] if "amount" in orders.columns else None
        self._shared_tables()
        self.population = False
        self._setup(self.raw, per_customer=True)
        probe = self._expression(self._default_instant())
        if not _per_customer_windows_only(probe):
            self.population = True
            # only an evaluation of everyone reads everyone's previous state
            if previous is not None and previous.num_rows:
                self.con.insert(PREV_ALL, previous)
            self._setup(self.raw, per_customer=False)
        import ibis.expr.operations as ops

        # in-memory tables (pins) are registered on the main connection only: then the
        # simulations share it instead of having cursors
        size = 1 if probe.op().find(ops.InMemoryTable) else max(1, min(os.cpu_count() or 1,
                                                                       CURSORS))
        self._pool: queue.Queue[Any] = queue.Queue()
        self._size = size
        self.closed = False
        for _ in range(size):
            cursor = self.raw if size == 1 else self.raw.cursor()
            if cursor is not self.raw:
                self._setup(cursor, per_customer=not self.population)
            self._pool.put(cursor)

    # ---- tables and views ----------------------------------------------------------------

    def _shared_tables(self) -> None:
        self.raw.execute(
            f"CREATE OR REPLACE TABLE {PREV_ALL} (customer_id VARCHAR, tier VARCHAR, "
            "tier_rank TINYINT, since TIMESTAMP, held_until TIMESTAMP, segments VARCHAR[])")

    def _setup(self, cur: Any, per_customer: bool) -> None:
        """A connection's own parameters: the variable, the new orders, the customer's
        recorded row, and the views the engine reads."""
        x = cur.execute
        x(f"SET VARIABLE {VARIABLE} = ''")
        x(f"CREATE OR REPLACE TEMP TABLE {NEW_ORDERS} AS "
          f"SELECT * FROM {self.source_tables['orders']} LIMIT 0")
        x(f"CREATE OR REPLACE TEMP TABLE {PREV_ONE} AS SELECT * FROM {PREV_ALL} LIMIT 0")
        who = f"customer_id = getvariable('{VARIABLE}')"
        for role, table in self.source_tables.items():
            columns = self.con.table(table).columns
            where = f" WHERE {who}" if per_customer and "customer_id" in columns else ""
            extra = f" UNION ALL SELECT * FROM {NEW_ORDERS}" if role == "orders" else ""
            x(f"CREATE OR REPLACE TEMP VIEW serve_sim_{role} AS "
              f"SELECT * FROM {table}{where}{extra}")
        if per_customer:
            x(f"CREATE OR REPLACE TEMP VIEW serve_sim_previous AS SELECT * FROM {PREV_ONE}")
        else:
            # everyone's state from the snapshot, this customer's as recorded now
            x(f"CREATE OR REPLACE TEMP VIEW serve_sim_previous AS SELECT * FROM {PREV_ALL} "
              f"WHERE customer_id <> getvariable('{VARIABLE}') UNION ALL "
              f"SELECT * FROM {PREV_ONE}")

    def _viewing_ruleset(self) -> LoadedRuleset:
        import dataclasses

        from tiers.serve.engine import PreloadedSource

        sources = {role: PreloadedSource(src, self.con.table(f"serve_sim_{role}"))
                   for role, src in self.loaded.sources.items()}
        return dataclasses.replace(self.loaded, sources=sources)

    def _default_instant(self) -> dt.datetime:
        return self.default_as_of(None)

    def _expression(self, as_of: dt.datetime) -> ir.Table:
        from tiers.serve.engine import condition_flags, evaluate

        # one lazy expression: compiled once, then run per request over the views
        self._ev = evaluate(self._viewing_ruleset(), as_of, self.con,
                            self.con.table("serve_sim_previous"), stage=False)
        flags = condition_flags(self.loaded, self._ev)
        return self._ev.table.mutate(**flags) if flags else self._ev.table

    # ---- preparing ------------------------------------------------------------------------

    @staticmethod
    def default_as_of(run: RunRef | None, orders: list[Order] | None = None) -> dt.datetime:
        """The first daily evaluation that counts every order (the start of the day after the
        latest one; today's orders when there are none), never before the last run."""
        latest = max((o.order_ts for o in orders or []), default=dt.datetime.now())
        day = latest.date() + dt.timedelta(days=1)
        instant = dt.datetime(day.year, day.month, day.day)
        return max(instant, run.as_of) if run is not None else instant

    def prepare(self, as_of: dt.datetime) -> _Prepared:
        """The compiled evaluation for ``as_of`` (kept for the last few days asked)."""
        with self.lock:
            found = self._prepared.get(as_of)
            if found is not None:
                self._prepared.move_to_end(as_of)
                return found
            return self._compile(as_of)

    def _compile(self, as_of: dt.datetime) -> _Prepared:
        from tiers.serve.engine import events_table

        expr = self._expression(as_of)
        ev = self._ev
        self.con._run_pre_execute_hooks(expr)  # registers in-memory tables (pins)
        sql = str(self.con.compile(expr))
        if self.population:
            sql = f"SELECT * FROM ({sql}) WHERE customer_id = getvariable('{VARIABLE}')"
        self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {RESULT} AS SELECT * FROM ({sql}) "
                         "LIMIT 0")
        events = events_table(self.con.table(RESULT), self.loaded.model.events, ev.as_of)
        events_sql = str(self.con.compile(events.select("event", "detail")))
        prepared = _Prepared(ev.as_of, sql, events_sql, ev.metric_columns,
                             expr.schema().to_pyarrow(), [expr, events])
        self._prepared[as_of] = prepared
        while len(self._prepared) > PREPARED_KEEP:
            self._prepared.popitem(last=False)
        return prepared

    # ---- running --------------------------------------------------------------------------

    def evaluate_one(self, customer_id: str, orders: list[Order], recorded: Recorded | None,
                     as_of: dt.datetime) -> tuple[dict[str, Any] | None, list[dict[str, Any]],
                                                  _Prepared]:
        """The customer's evaluated row (None when unknown and without orders) and events."""
        if self.closed:
            raise SimulatorClosed
        prepared = self.prepare(as_of)
        cur = self._pool.get()
        try:
            if self.closed:
                raise SimulatorClosed
            x = cur.execute
            x(f"SET VARIABLE {VARIABLE} = ?", [customer_id])
            x(f"DELETE FROM {NEW_ORDERS}")
            if orders:
                cur.executemany(
                    f"INSERT INTO {NEW_ORDERS} (customer_id, order_ts, amount) VALUES (?, ?, ?)",
                    [[customer_id, o.order_ts, o.amount] for o in orders])
            x(f"DELETE FROM {PREV_ONE}")
            if recorded is not None:
                x(f"INSERT INTO {PREV_ONE} VALUES (?, ?, ?, ?, ?, ?)",
                  [customer_id, recorded.tier, recorded.tier_rank, recorded.since,
                   recorded.held_until, recorded.segments])
            x(f"CREATE OR REPLACE TEMP TABLE {RESULT} AS {prepared.sql}")
            result = x(f"SELECT * FROM {RESULT}").fetch_arrow_table()
            if result.schema != prepared.schema:  # as tiers.engine.fetch.to_arrow does
                result = result.rename_columns(prepared.schema.names).cast(prepared.schema)
            rows = result.to_pylist()
            events = x(prepared.events_sql).fetch_arrow_table().to_pylist() if rows else []
        finally:
            self._pool.put(cur)
        events.sort(key=lambda e: (e["event"], e["detail"] or ""))
        return (rows[0] if rows else None), events, prepared

    def close(self) -> None:
        """Wait for the running simulations, then close the cursors and the connection."""
        self.closed = True
        cursors = [self._pool.get() for _ in range(self._size)]
        for cur in cursors:
            if cur is not self.raw:
                with contextlib.suppress(Exception):
                    cur.close()
        with contextlib.suppress(Exception):
            self.con.disconnect()
        for cur in cursors:  # a request still waiting finds them, and that they are closed
            self._pool.put(cur)


def simulate(simulator: Simulator, customer_id: str, orders: list[Order],
             recorded: Recorded | None, as_of: dt.datetime) -> Simulation | None:
    """Evaluate ``customer_id`` with ``orders`` added, against their recorded state, as of
    ``as_of``; None when the customer has no data and no orders are given."""
    from tiers.serve.engine import build

    row, events, prepared = simulator.evaluate_one(customer_id, orders, recorded, as_of)
    if row is None:
        return None
    explanation = build(simulator.loaded, prepared.as_of, row, events, prepared.metric_columns)
    return Simulation(customer_id, prepared.as_of, orders, explanation, simulator.population)
