"""What the server answers from: the ruleset's sources loaded once into DuckDB, and the
evaluation as of the last recorded run kept in memory.

Lookups must not evaluate the ruleset per request. The whole ruleset is evaluated once, as of
the last recorded run's as-of and against the state that run left (exactly what
`tiers explain --as-of` evaluates), with each tier condition's verdict added as explain adds it;
the per-customer rows stay as one Arrow table with a dict from customer id to row. One row
then goes through explain's own ``build`` to give the same explanation `tiers explain` prints.
A new recorded run makes a new snapshot (see tiers.serve.service).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.core.errors import DataError, TiersError
from tiers.serve.simulate import SOURCE_TABLE

if TYPE_CHECKING:
    import pyarrow as pa

    from tiers.serve.engine import Explanation, LoadedRuleset
    from tiers.serve.simulate import Simulator
    from tiers.serve.state import RunRef


@dataclass
class Lookups:
    """The evaluation of one recorded run, one row per customer."""

    run: RunRef
    as_of: dt.datetime
    table: pa.Table
    index: dict[str, int]
    metric_columns: list[str]
    events: pa.Table                  # customer_id, event, detail; sorted by customer_id
    event_rows: dict[str, tuple[int, int]]
    columns: list[tuple[str, pa.Array]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # one contiguous array per column: reading a row by index is then one scalar per
        # column (a fifth of what slicing the table and converting the slice costs)
        table = self.table.combine_chunks()
        self.table = table
        self.columns = [(name, table.column(name).chunk(0) if table.column(name).num_chunks
                         else table.column(name).combine_chunks())
                        for name in table.column_names]

    def row(self, customer_id: str) -> dict[str, Any] | None:
        i = self.index.get(customer_id)
        if i is None:
            return None
        return {name: column[i].as_py() for name, column in self.columns}

    def events_of(self, customer_id: str) -> list[dict[str, Any]]:
        start, stop = self.event_rows.get(customer_id, (0, 0))
        rows = self.events.slice(start, stop - start).to_pylist()
        rows.sort(key=lambda e: (e["event"], e["detail"] or ""))  # as explain orders them
        return [{"event": e["event"], "detail": e["detail"]} for e in rows]


@dataclass
class Snapshot:
    loaded: LoadedRuleset
    con: Any
    sources: LoadedRuleset            # the ruleset reading the tables loaded on ``con``
    lookups: Lookups | None
    simulator: Simulator
    loaded_at: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def run(self) -> RunRef | None:
        return self.lookups.run if self.lookups is not None else None

    def explain(self, customer_id: str) -> Explanation | None:
        from tiers.serve.engine import build

        lk = self.lookups
        if lk is None:
            return None
        row = lk.row(customer_id)
        if row is None:
            return None
        return build(self.loaded, lk.as_of, row, lk.events_of(customer_id), lk.metric_columns)

    def close(self) -> None:
        self.simulator.close()


def load_sources(loaded: LoadedRuleset, con: Any) -> LoadedRuleset:
    """Each source loaded (parsed and checked) once into a DuckDB table, in customer order
    so that filtering one customer reads a row group or two; returns a copy of ``loaded``
    that reads those tables."""
    from tiers.serve.engine import PreloadedSource

    sources = {}
    for role, source in loaded.sources.items():
        try:
            table = source.load(con)
            if "customer_id" in table.columns:
                table = table.order_by("customer_id")
            stored = con.create_table(SOURCE_TABLE.format(role=role), table, overwrite=True)
        except TiersError:
            raise
        except Exception as exc:
            raise DataError(f"{loaded.file}: source `{role}` could not be loaded: "
                            f"{exc}") from None
        sources[role] = PreloadedSource(source, stored)
    return dataclasses.replace(loaded, sources=sources)


def evaluate_lookups(loaded: LoadedRuleset, con: Any, run: RunRef,
                     previous: pa.Table | None) -> Lookups:
    import ibis
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from tiers.serve.engine import condition_flags, evaluate, events_table, to_arrow

    prev = ibis.memtable(previous) if previous is not None else None
    ev = evaluate(loaded, run.as_of, con, prev)
    flags = condition_flags(loaded, ev)
    try:
        table = to_arrow(ev.con, ev.table.mutate(**flags) if flags else ev.table)
        # events derive from the per-customer rows alone (as `tiers run` reads them for
        # large results): no second evaluation of the whole pipeline
        events = to_arrow(ev.con, events_table(ibis.memtable(table), loaded.model.events,
                                               ev.as_of))
    except TiersError:
        raise
    except Exception as exc:
        raise DataError(f"the engine could not evaluate {loaded.file}: {exc}") from None
    ids = table["customer_id"].to_pylist()
    index = dict(zip(ids, range(len(ids)), strict=True))
    events = events.select(["customer_id", "event", "detail"])
    events = events.take(pc.sort_indices(events, [("customer_id", "ascending")]))
    # one (start, stop) range per customer with events, from the run boundaries
    cust = events["customer_id"].combine_chunks()
    n = len(cust)
    if n:
        changes = pc.not_equal(cust.slice(1), cust.slice(0, n - 1))
        starts = np.concatenate([[0], np.flatnonzero(changes.to_numpy(
            zero_copy_only=False)) + 1])
        stops = np.append(starts[1:], n)
        firsts = pc.take(cust, pa.array(starts)).to_pylist()
        event_rows = dict(zip(firsts, zip(starts.tolist(), stops.tolist(), strict=True),
                              strict=True))
    else:
        event_rows = {}
    return Lookups(run, ev.as_of, table, index, ev.metric_columns, events, event_rows)


def build_snapshot(loaded: LoadedRuleset, reader: Any, *, log: Any = None) -> Snapshot:
    """Load the sources, evaluate the last recorded run (when there is one) and prepare the
    simulation query."""
    from tiers.serve.engine import connect
    from tiers.serve.simulate import Simulator

    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    con = connect("duckdb")
    try:
        sources = load_sources(loaded, con)
        timings["load sources"] = time.perf_counter() - started
        t0 = time.perf_counter()
        run, previous = reader.previous_arrow()
        lookups = None
        if run is not None:
            say(f"evaluating {loaded.name} as of {run.as_of:%Y-%m-%d} (run {run.id})")
            lookups = evaluate_lookups(sources, con, run, previous)
        timings["evaluate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        simulator = Simulator(sources, con, previous)
        simulator.prepare(simulator.default_as_of(run))
        timings["prepare simulation"] = time.perf_counter() - t0
    except BaseException:
        con.disconnect()
        raise
    return Snapshot(loaded, con, sources, lookups, simulator, time.time(), timings)
