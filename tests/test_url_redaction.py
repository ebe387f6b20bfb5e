"""Credentials in webhook URLs and headers never reach the output, the ledger, the files under
.tiers/ or a --debug traceback (a real HTTP server answering 500, the real `tiers` process)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import Receiver, start_http
from tests.shop import write_shop

REPO = Path(__file__).resolve().parent.parent
SECRETS = ["pw-SECRET-1", "tok-SECRET-2", "sig-SECRET-3", "key-SECRET-4", "hdr-SECRET-5"]


@pytest.fixture
def http():
    receiver = Receiver()
    server, base = start_http(receiver)
    yield receiver, base
    server.shutdown()


def secret_url(base: str, path: str = "/hook") -> str:
    host = base.split("://", 1)[1]
    return (f"http://crm:{SECRETS[0]}@{host}{path}?token={SECRETS[1]}&page=2"
            f"&sig={SECRETS[2]}&api_key={SECRETS[3]}")


def hook(url: str) -> str:
    return f"""
        - type: webhook
          id: crm_sync
          when: {{tier: vip}}
          url: "{url}"
          headers: {{Authorization: "Bearer {SECRETS[4]}"}}
          retries: 1
          backoff: 0.01
        """


def tiers(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "tiers", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def tiers_files(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (folder / ".tiers").rglob("*") if p.is_file()}


def test_failing_webhook_with_credentials_leaks_them_nowhere(tmp_path, http):
    receiver, base = http
    url = secret_url(base)
    receiver.script["/hook?" + url.split("?", 1)[1]] = [500] * 100  # the path with its query
    ruleset = write_shop(tmp_path, hook(url))
    outputs = []
    for args in (["run", str(ruleset), "--dry-run"], ["run", str(ruleset)],
                 ["--debug", "run", str(ruleset), "--as-of", "2026-06-02"],
                 ["run", str(ruleset), "--format", "json", "--as-of", "2026-06-03"]):
        proc = tiers(*args, cwd=tmp_path)
        outputs.append(proc)
        assert leaks(proc.stdout) == [] and leaks(proc.stderr) == [], args
    run = outputs[1]
    assert run.returncode == 5, run.stderr
    # the failure is still readable: where it went, with the secrets masked
    assert "crm:***@127.0.0.1" in run.stdout and "token=***" in run.stdout
    assert "page=2" in run.stdout and "HTTP 500" in run.stdout
    assert receiver.requests, "the server was called"
    # the request itself still carried the credentials
    assert SECRETS[1] in receiver.requests[0]["path"]

    con = sqlite3.connect(tmp_path / ".tiers" / "state.db")
    errors = [r[0] for r in con.execute("SELECT error FROM ledger WHERE status = 'failed'")]
    dumped = "\n".join(con.iterdump())
    con.close()
    assert errors and all("token=***&page=2&sig=***&api_key=*** failed: HTTP 500" in e
                          for e in errors)
    assert leaks(dumped) == []
    files = tiers_files(tmp_path)
    assert files
    for name, data in files.items():
        assert leaks(data.decode("utf-8", "replace")) == [], name


def test_ruleset_error_quoting_the_url_is_masked_with_and_without_debug(tmp_path):
    url = f"ftp://crm:{SECRETS[0]}@files.example/drop?token={SECRETS[1]}"
    ruleset = write_shop(tmp_path, hook(url))
    for args in (["validate", str(ruleset)], ["--debug", "run", str(ruleset)]):
        proc = tiers(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "is not an http(s) URL" in proc.stdout + proc.stderr
        assert leaks(proc.stdout) == [] and leaks(proc.stderr) == [], args
    assert "Traceback" in proc.stderr  # --debug still shows where it came from


def test_debug_traceback_of_any_error_is_masked():
    from tiers.cli.common import traceback_text

    try:
        raise RuntimeError(f"cannot reach https://u:{SECRETS[0]}@h.example/x?"
                           f"access_token={SECRETS[1]}&X-Amz-Signature={SECRETS[2]}")
    except RuntimeError:
        text = traceback_text()
    assert "Traceback" in text and "RuntimeError" in text
    assert leaks(text) == []
    assert "u:***@h.example" in text and "access_token=***" in text
