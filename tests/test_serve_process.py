"""`tiers serve` as a real process on 127.0.0.1: start-up messages, clean stop, refusals.

The helpers here (a sample workspace, a running server) are shared by the other
tests/test_serve_*.py files."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .conftest import REPO

KEY = "serve-test-key-3f9a1c0e5b7d"
OTHER_KEY = "serve-other-key-9c2e4a7f1d3b"
TIERS = str(Path(sys.executable).parent / "tiers")


def workspace(tmp: Path, ruleset: str = "retail") -> Path:
    """A copy of a bundled ruleset and its data, so runs write their store there."""
    shutil.copy(REPO / "rulesets" / f"{ruleset}.yaml", tmp / f"{ruleset}.yaml")
    shutil.copytree(REPO / "rulesets" / "templates", tmp / "templates")
    shutil.copytree(REPO / "rulesets" / "data" / ruleset, tmp / "data" / ruleset)
    return tmp / f"{ruleset}.yaml"


def tiers(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run([TIERS, *map(str, args)], capture_output=True, text=True,
                         env=env or os.environ.copy(), timeout=300)
    return res


def record_run(ruleset: Path, *extra: str) -> None:
    res = tiers("run", ruleset, "--format", "json", *extra)
    assert res.returncode == 0, res.stderr


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    stdout: list[str] = field(default_factory=list)
    log: Path | None = None

    def client(self, key: str | None = KEY, **kw) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stdout += (self.proc.stdout.read() or "").splitlines() if self.proc.stdout else []
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log else ""


def start_server(ruleset: Path, *extra: str, env: dict[str, str] | None = None,
                 timeout: float = 240) -> Server:
    """`tiers serve RULESET --port 0`, waiting for its "listening on" line."""
    env = {**os.environ, "TIERS_API_KEYS": f"{KEY},{OTHER_KEY}", **(env or {})}
    log = ruleset.parent / f"serve-{time.monotonic_ns()}.log"
    err = open(log, "w", encoding="utf-8")  # noqa: SIM115 - the process writes it until stopped
    proc = subprocess.Popen([TIERS, "serve", str(ruleset), "--port", "0", "--poll", "0.5",
                             *extra], stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("listening on "):
            url = line.split()[2]
            return Server(proc, url, lines, log)
    proc.kill()
    proc.wait()
    raise AssertionError(f"the server did not start: {lines}\n{log.read_text()}")


@pytest.fixture(scope="module")
def retail(tmp_path_factory) -> Path:
    """The retail sample with one recorded run."""
    path = workspace(tmp_path_factory.mktemp("serve"))
    record_run(path)
    return path


@pytest.fixture(scope="module")
def server(retail) -> Iterator[Server]:
    s = start_server(retail)
    yield s
    s.stop()


# ---- the tests of this file ------------------------------------------------------------

def test_start_up_says_where_and_how_then_stops_on_sigterm(retail):
    s = start_server(retail)
    try:
        assert s.url.startswith("http://127.0.0.1:")
        text = "\n".join(s.stdout)
        assert "4,000 customers as of 2026-11-21 (run 1)" in text
        assert "Authorization: Bearer KEY" in text and "X-API-Key: KEY" in text
        assert "2 keys in $TIERS_API_KEYS" in text
        with s.client(key=None) as c:
            health = c.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "store": "reachable"}
    finally:
        code = s.stop(signal.SIGTERM)
    assert code == 0
    assert s.stdout[-1] == "stopped"
    assert "Traceback" not in s.log_text()


def test_ctrl_c_stops_cleanly(retail):
    s = start_server(retail)
    with s.client() as c:
        assert c.get("/v1/tiers").status_code == 200
    assert s.stop(signal.SIGINT) == 0
    assert s.stdout[-1] == "stopped"


def test_without_api_keys_it_refuses_to_start(retail):
    env = {k: v for k, v in os.environ.items() if k != "TIERS_API_KEYS"}
    res = tiers("serve", retail, "--port", "0", env=env)
    assert res.returncode == 2
    assert "TIERS_API_KEYS is not set" in res.stderr
    res = tiers("serve", retail, "--port", "0", env={**env, "TIERS_API_KEYS": "short,,"})
    assert res.returncode == 2
    assert "shorter than 16 characters" in res.stderr
    assert "short" not in res.stderr.replace("shorter", "")  # the key itself is not echoed


def test_a_taken_port_is_a_clear_error(retail):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        res = tiers("serve", retail, "--port", str(port),
                    env={**os.environ, "TIERS_API_KEYS": KEY})
    assert res.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr
    assert "--port" in res.stderr


def test_cors_origins_must_be_origins(retail):
    env = {**os.environ, "TIERS_API_KEYS": KEY}
    res = tiers("serve", retail, "--port", "0", "--cors-origin", "*", env=env)
    assert res.returncode == 2 and "every web site" in res.stderr  # a bad option value
    res = tiers("serve", retail, "--port", "0", env={**env,
                                                      "TIERS_CORS_ORIGINS": "shop.example/x"})
    assert res.returncode == 2 and "is not an origin" in res.stderr


def test_no_key_reaches_the_log_or_an_answer(server):
    with server.client(key=None) as anon:
        in_url = anon.get(f"/v1/customers/C00001?api_key={KEY}")
        bearer = anon.get("/v1/customers/C00001", headers={"Authorization": f"Bearer {KEY}"})
        wrong = anon.get("/v1/customers/C00001", headers={"X-API-Key": KEY + "x"})
    assert in_url.status_code == 401
    assert "never in the URL" in in_url.json()["error"]["message"]
    assert bearer.status_code == 200
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    for res in (in_url, bearer, wrong):
        assert KEY not in res.text and KEY not in str(res.headers)
    time.sleep(0.2)
    log = server.log_text()
    assert '"GET /v1/customers/C00001" 401' in log
    assert KEY not in log and OTHER_KEY not in log
    assert "api_key" not in log
