"""`tiers runs --unlock` never breaks a live run: a real second process holds the lock."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.shop import run_shop, write_shop
from tiers.store.errors import RunLockedError
from tiers.store.schema import run_locks, runs
from tiers.store.store import StateStore

REPO = Path(__file__).resolve().parent.parent

HOLD = textwrap.dedent("""
    import datetime as dt, sys
    from tiers.store.store import StateStore
    store = StateStore(sys.argv[1])
    handle = store.begin_run("shop", "hash", dt.datetime(2026, 6, 1))
    print(handle.id, flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
    store.finish_run(handle, "done")
    """)


@pytest.fixture
def holder(tmp_path):
    """A separate process that has taken the run lock of ruleset `shop` and keeps it."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    run_id = int(proc.stdout.readline())
    yield proc, url, run_id
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def unlock(url: str, *extra: str):
    from tiers.cli.app import build_app

    return CliRunner().invoke(build_app(), ["runs", "--state", url, "--unlock", "shop", *extra])


def lock_rows(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(sa.select(run_locks))]
    engine.dispose()
    return out


def test_unlock_refuses_while_the_holder_is_alive_here(tmp_path, holder):
    proc, url, run_id = holder
    res = unlock(url)
    assert res.exit_code == 7, res.output
    assert f"run {run_id} of ruleset 'shop' is still running: pid {proc.pid}" in res.output
    assert f"kill {proc.pid}" in res.output and "--force" in res.output
    (row,) = lock_rows(url)
    assert (row["pid"], row["run_id"]) == (proc.pid, run_id)  # the lock stayed
    with pytest.raises(RunLockedError):  # so a second run still cannot start
        run_shop(write_shop(tmp_path), url)
    proc.stdin.close()  # the holder finishes normally and frees its lock
    assert proc.wait(timeout=60) == 0
    assert lock_rows(url) == []
    assert run_shop(write_shop(tmp_path), url).run is not None


def test_after_the_holder_is_killed_unlock_works_without_force(holder):
    proc, url, run_id = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    res = unlock(url)
    assert res.exit_code == 0, res.output
    assert f"removed the lock of run {run_id} (pid {proc.pid}" in res.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        status = conn.execute(sa.select(runs.c.status).where(runs.c.id == run_id)).scalar()
    engine.dispose()
    assert status == "abandoned" and lock_rows(url) == []


def test_force_frees_a_lock_whose_pid_is_not_a_tiers_run(holder):
    proc, url, run_id = holder
    res = unlock(url, "--force")  # the user has checked: that pid is some other program
    assert res.exit_code == 0, res.output
    assert f"removed the lock of run {run_id} (pid {proc.pid}" in res.output
    assert lock_rows(url) == []


def test_lock_from_another_host_needs_force(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(url).dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(run_locks.insert().values(ruleset="shop", run_id=99, pid=4242,
                                               host="shop-etl-2",
                                               acquired_at=dt.datetime(2026, 6, 1, 2, 15)))
    engine.dispose()
    res = unlock(url)
    assert res.exit_code == 7, res.output
    assert "pid 4242 on host shop-etl-2" in res.output
    assert "tiers runs --unlock shop --force" in res.output
    assert len(lock_rows(url)) == 1
    assert unlock(url, "--force").exit_code == 0 and lock_rows(url) == []


def test_force_alone_is_a_usage_error(tmp_path):
    from tiers.cli.app import build_app

    res = CliRunner().invoke(build_app(), ["runs", "--state", f"sqlite:///{tmp_path}/s.db",
                                           "--force"])
    assert res.exit_code == 2 and "--force goes with --unlock" in res.output


def test_a_live_tiers_run_keeps_its_lock_and_sends_each_key_once(tmp_path):
    """The reported case: `--unlock` during a live run let a second run apply everything
    again. Here a real `tiers run` posts to a slow receiver while we try to unlock and run."""
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    keys: list[str] = []
    first = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            keys.append(self.headers["Idempotency-Key"])
            first.set()
            time.sleep(0.7)  # the run stays in its apply step for a while
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ruleset = write_shop(tmp_path, f"""
            - type: webhook
              when: {{tier: vip}}
              url: http://127.0.0.1:{server.server_address[1]}/hook
            """)
        url = f"sqlite:///{tmp_path / 'state.db'}"
        live = subprocess.Popen([sys.executable, "-m", "tiers", "run", str(ruleset), "--state",
                                 url, "--format", "json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        assert first.wait(120), "the run never posted"
        res = unlock(url)
        assert res.exit_code == 7 and f"pid {live.pid}" in res.output, res.output
        with pytest.raises(RunLockedError):
            run_shop(ruleset, url)
        out, err = live.communicate(timeout=120)
        assert live.returncode == 0, err
        assert json.loads(out)["actions"][0]["done"] == 3
    finally:
        server.shutdown()
    assert len(keys) == 3 and len(set(keys)) == 3  # every key once, nothing sent twice
