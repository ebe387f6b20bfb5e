"""The server's state: the ruleset, the store reader and the current snapshot, renewed in the
background when a new run is recorded.

Every lookup reads the store once anyway (the customer's recorded row and the latest run id,
one statement); when that id is newer than the snapshot's, the watcher is woken at once. The
watcher also polls every few seconds, so the distribution and new customers follow a run even
when nobody looks a customer up. While a new snapshot is built the old one keeps answering.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from tiers.core.errors import TiersError

if TYPE_CHECKING:
    from tiers.serve.engine import LoadedRuleset
    from tiers.serve.snapshot import Snapshot
    from tiers.serve.state import RunRef, StoreReader

log = logging.getLogger("tiers.serve")


class Service:
    def __init__(self, loaded: LoadedRuleset, reader: StoreReader, *, poll: float = 2.0):
        self.loaded = loaded
        self.reader = reader
        self.poll = poll
        self.snapshot: Snapshot | None = None
        self.refresh_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dist: tuple[int | None, dict[str, int]] | None = None
        self.tier_names = {t.id: t.label for t in loaded.model.tiers}

    # ---- life cycle ------------------------------------------------------------------------

    def load(self, say: Any = None) -> Snapshot:
        """The first snapshot, before the server listens (errors stop the start-up)."""
        from tiers.serve.snapshot import build_snapshot

        self.snapshot = build_snapshot(self.loaded, self.reader, log=say)
        return self.snapshot

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="tiers-serve-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.snapshot is not None:
            self.snapshot.close()
        self.reader.dispose()

    # ---- noticing new runs ---------------------------------------------------------------

    def seen(self, run: RunRef | None) -> None:
        """A request saw ``run`` as the latest: wake the watcher if it is newer."""
        current = self.snapshot.run if self.snapshot is not None else None
        if run is not None and (current is None or run.id != current.id):
            self._wake.set()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                latest = self.reader.latest_run()
            except TiersError as exc:
                log.warning("store check failed: %s", exc)
                continue
            snap = self.snapshot
            if latest is None or (snap is not None and snap.run == latest):
                continue
            self._refresh(latest)

    def _refresh(self, latest: RunRef) -> None:
        from tiers.serve.snapshot import build_snapshot

        started = time.perf_counter()
        log.info("run %s recorded (as of %s): evaluating", latest.id, f"{latest.as_of:%Y-%m-%d}")
        try:
            fresh = build_snapshot(self.loaded, self.reader)
        except TiersError as exc:
            # keep answering from the previous snapshot; the next poll tries again
            self.refresh_error = str(exc)
            log.error("could not evaluate run %s: %s", latest.id, exc)
            self._stop.wait(self.poll * 5)
            return
        old, self.snapshot = self.snapshot, fresh
        self.refresh_error = None
        log.info("now answering from run %s (%.1f s)", fresh.run.id if fresh.run else "-",
                 time.perf_counter() - started)
        if old is not None:
            old.close()

    # ---- reads shared by the API and the console -----------------------------------------

    def distribution(self) -> tuple[RunRef | None, dict[str, int]]:
        """Customers per tier after the latest run, from the store (cached per run)."""
        latest = self.reader.latest_run()
        self.seen(latest)
        key = latest.id if latest is not None else None
        if self._dist is None or self._dist[0] != key:
            self._dist = (key, self.reader.distribution() if latest is not None else {})
        return latest, self._dist[1]
