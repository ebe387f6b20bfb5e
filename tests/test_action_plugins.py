"""Outside action plugins act through the same contract as the built-ins: a scaffolded action
and the example package's webhook action, installed in a fresh virtualenv, are planned by
`tiers run --dry-run`, applied exactly once by `tiers run`, not again by a second run, and
exactly once after a run killed with SIGKILL in the middle of applying is run again."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import tiers.cli.app as cli
from tests.plugin_venv import PluginVenv
from tiers.store.schema import ledger

ROOT = Path(__file__).resolve().parent.parent
GOLD = 1500  # customers the action selects: enough intents for a kill to land mid-apply


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> PluginVenv:
    root = tmp_path_factory.mktemp("action-plugins")
    env = PluginVenv(root / "venv")
    result = CliRunner().invoke(cli.build_app(), ["new-plugin", "outbox", "--action",
                                                  "--dir", str(root)])
    assert result.exit_code == 0, result.output
    env.pip_install(root / "tiers-outbox")
    env.pip_install(ROOT / "examples" / "tiers-crm")
    return env


def write_shop(folder: Path, action: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["customer_id,order_ts,amount"]
    lines += [f"G{i:05d},2026-03-01,{500 + i % 7}" for i in range(GOLD)]
    lines += [f"B{i:05d},2026-03-02,20" for i in range(200)]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ruleset = folder / "shop.yaml"
    ruleset.write_text(f"""
name: shop
as_of: 2026-06-01
sources:
  orders: {{type: csv, path: orders.csv}}
tiers:
  - {{id: basic}}
  - {{id: gold, name: Gold}}
policies:
  - {{type: spend, thresholds: {{gold: 400}}}}
actions:
{action}
""", encoding="utf-8")
    return ruleset


def tiers_cmd(env: PluginVenv, *args: str) -> list[str]:
    return [str(env.python), "-m", "tiers", *args]


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "CI": "true", "PYTHONNOUSERSITE": "1", **extra}
    env.pop("PYTHONPATH", None)
    return env


def run_json(env: PluginVenv, ruleset: Path, *args: str, **extra: str) -> dict[str, Any]:
    proc = subprocess.run(tiers_cmd(env, "run", str(ruleset), "--format", "json", *args),
                          env=child_env(**extra), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def action_figures(report: dict[str, Any], action: str) -> dict[str, Any]:
    return next(a for a in report["actions"] if a["action"] == action)


def planned(report: dict[str, Any], action: str) -> int:
    assert report["dry_run"] is True
    return next(p for p in report["plan"] if p["action"] == action)["intents"]


def ledger_status(ruleset: Path, action: str) -> collections.Counter[str]:
    engine = sa.create_engine(f"sqlite:///{ruleset.parent / '.tiers' / 'state.db'}")
    with engine.connect() as conn:
        found = collections.Counter(conn.execute(sa.select(ledger.c.status).where(
            ledger.c.action == action)).scalars())
    engine.dispose()
    return found


def kill_when(proc: subprocess.Popen[str], ready: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before it could be killed mid-apply"
        assert time.monotonic() < deadline, "the run never reached its apply step"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


# ---- the scaffolded action -----------------------------------------------------------------

OUTBOX = "  - {type: outbox, when: {tier: gold}, outbox: outbox.jsonl}"


def outbox_keys(folder: Path) -> list[str]:
    path = folder / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()]


def test_scaffolded_action_is_planned_applied_once_and_not_again(venv, tmp_path):
    ruleset = write_shop(tmp_path, OUTBOX)
    plan = run_json(venv, ruleset, "--dry-run")
    assert planned(plan, "outbox") == GOLD
    assert not (tmp_path / "outbox.jsonl").exists()
    assert not (tmp_path / ".tiers").exists()  # a dry run writes nothing

    first = run_json(venv, ruleset)
    assert action_figures(first, "outbox")["done"] == GOLD
    keys = outbox_keys(tmp_path)
    assert len(keys) == len(set(keys)) == GOLD
    assert ledger_status(ruleset, "outbox") == {"done": GOLD}

    second = run_json(venv, ruleset)
    assert action_figures(second, "outbox")["done"] == 0
    assert outbox_keys(tmp_path) == keys


def test_scaffolded_action_killed_mid_apply_then_resumed_applies_each_once(venv, tmp_path):
    ruleset = write_shop(tmp_path, OUTBOX)
    proc = subprocess.Popen(tiers_cmd(venv, "run", str(ruleset)), env=child_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    kill_when(proc, lambda: len(outbox_keys(tmp_path)) >= 50)
    assert len(outbox_keys(tmp_path)) < GOLD
    left = ledger_status(ruleset, "outbox")
    assert left["done"] < GOLD and left["pending"] > 0

    again = run_json(venv, ruleset)
    assert "took over the lock" in " ".join(again["notes"])
    keys = outbox_keys(tmp_path)
    assert len(keys) == len(set(keys)) == GOLD  # each intent once, none twice
    assert ledger_status(ruleset, "outbox") == {"done": GOLD}


# ---- the example package's webhook action -------------------------------------------------

class Hook:
    """A webhook receiver that can hold the Nth request unanswered, as a hung endpoint does."""

    def __init__(self, hold_at: int | None = None):
        self.keys: list[str] = []
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                assert json.loads(body)["text"].startswith("Customer ")
                hook.keys.append(self.headers["Idempotency-Key"])
                if hook.hold_at is not None and len(hook.keys) == hook.hold_at:
                    hook.holding.set()
                    hook.release.wait(60)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/SECRET"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.stop()


NOTIFY = "  - {type: webhook_notify, url: '${SLACK_WEBHOOK_URL}', when: {tier: gold}}"


def test_example_webhook_is_planned_posted_once_and_not_again(venv, tmp_path, hook):
    ruleset = write_shop(tmp_path, NOTIFY)
    plan = run_json(venv, ruleset, "--dry-run", SLACK_WEBHOOK_URL=hook.url)
    assert planned(plan, "webhook_notify") == GOLD
    assert hook.keys == []

    first = run_json(venv, ruleset, SLACK_WEBHOOK_URL=hook.url)
    assert action_figures(first, "webhook_notify")["done"] == GOLD
    assert len(hook.keys) == len(set(hook.keys)) == GOLD

    second = run_json(venv, ruleset, SLACK_WEBHOOK_URL=hook.url)
    assert action_figures(second, "webhook_notify")["done"] == 0
    assert len(hook.keys) == GOLD


def test_example_webhook_killed_mid_apply_then_resumed_posts_each_once(venv, tmp_path, hook):
    hook.hold_at = 40  # the 40th request hangs: the kill lands while it is in flight
    ruleset = write_shop(tmp_path, NOTIFY)
    proc = subprocess.Popen(tiers_cmd(venv, "run", str(ruleset)),
                            env=child_env(SLACK_WEBHOOK_URL=hook.url),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    kill_when(proc, hook.holding.is_set)
    hook.hold_at = None
    hook.release.set()
    assert ledger_status(ruleset, "webhook_notify") == {"done": 39, "sending": 1,
                                                        "pending": GOLD - 40}
    in_flight = hook.keys[-1]

    again = run_json(venv, ruleset, SLACK_WEBHOOK_URL=hook.url)
    figures = action_figures(again, "webhook_notify")
    assert figures["done"] == GOLD - 39
    assert ledger_status(ruleset, "webhook_notify") == {"done": GOLD}
    counts = collections.Counter(hook.keys)
    assert len(counts) == GOLD  # every intent reached the receiver
    # only the request in flight at the kill came twice, with the same Idempotency-Key,
    # which the receiver uses to drop the copy
    assert {k: n for k, n in counts.items() if n > 1} == {in_flight: 2}
