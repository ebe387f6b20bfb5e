"""A run killed with SIGKILL in the middle of sending, then run again: every intended
effect happens exactly once and the ledger agrees."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys

import sqlalchemy as sa

from tests.servers import Receiver, SmtpSink, start_http, start_smtp
from tests.shop import VIPS, write_shop
from tiers.store.schema import ledger


def test_sigkill_mid_apply_then_resume_sends_each_key_once(tmp_path):
    sink = SmtpSink(trap_at=2)  # the second mail hangs: the kill lands mid-batch
    smtp = start_smtp(sink)
    receiver = Receiver()
    http, base = start_http(receiver)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ruleset = write_shop(tmp_path, f"""
        - type: webhook
          id: crm
          when: {{tier: vip}}
          url: {base}/hook
        - type: email
          id: vip_mail
          when: {{tier: vip}}
          template: tier_up
          from: club@shop.example
          transport: smtp
          smtp: {{host: 127.0.0.1, port: {smtp.port}}}
          batch_size: 10
        """)
    env = {**os.environ, "CI": "true"}
    cmd = [sys.executable, "-m", "tiers", "run", str(ruleset), "--state", url]
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert sink.trapped.wait(60), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            status = dict(conn.execute(sa.select(ledger.c.action, ledger.c.status)
                                       .where(ledger.c.action == "crm")).all())
            mail = collections.Counter(conn.execute(sa.select(ledger.c.status).where(
                ledger.c.action == "vip_mail")).scalars())
        assert status == {"crm": "done"}
        assert mail == {"done": 1, "sending": 1, "pending": 1}
        assert len(sink.messages) == 1

        sink.trap_at = None
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr + again.stdout
        assert "took over the lock" in again.stdout
        assert "1 were in flight when an earlier run stopped" in again.stdout

        with engine.connect() as conn:
            rows = conn.execute(sa.select(ledger.c.action, ledger.c.key, ledger.c.status)).all()
        engine.dispose()
        assert {r.status for r in rows} == {"done"}
        mail_keys = sorted(r.key for r in rows if r.action == "vip_mail")
        hook_keys = sorted(r.key for r in rows if r.action == "crm")
        assert len(mail_keys) == len(hook_keys) == len(VIPS)
        assert sorted(m["X-Tiers-Key"] for m in sink.messages) == mail_keys  # once each
        assert sorted(receiver.keys()) == hook_keys                           # once each
    finally:
        smtp.stop()
        http.shutdown()
