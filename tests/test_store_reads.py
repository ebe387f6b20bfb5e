"""Reading the SQLite state store takes no write lock: `tiers runs` and `tiers history` answer
while a run is recording, and do not hold up the run."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from tiers.store.store import StateStore


def test_reads_answer_while_a_writer_holds_the_store(tmp_path: Path):
    path = tmp_path / "state.db"
    StateStore(f"sqlite:///{path}").dispose()  # creates the tables
    store = StateStore(f"sqlite:///{path}", create=False)
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # a run in the middle of recording
    writer.execute("INSERT INTO runs (ruleset, content_hash, as_of, started_at, status) "
                   "VALUES ('r', 'h', '2026-01-01', '2026-01-01', 'running')")
    answers: list[object] = []
    reader = threading.Thread(target=lambda: answers.append(
        (store.list_runs("r"), store.history_for("C1", "r"), store.current_for("C1", "r"))))
    started = time.monotonic()
    reader.start()
    reader.join(timeout=10)
    waited = time.monotonic() - started
    try:
        assert not reader.is_alive(), "the reads waited for the writer's lock"
        # the writer's uncommitted run is not seen; nothing was blocked
        assert answers == [([], [], [])]
        assert waited < 10
        writer.execute("COMMIT")  # and the writer was not held up by the readers
    finally:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        writer.close()
        store.dispose()
    assert [r["status"] for r in StateStore(f"sqlite:///{path}", create=False).list_runs("r")
            ] == ["running"]
