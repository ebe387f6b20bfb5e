"""The webhook action against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import sqlalchemy as sa

from tests.servers import Receiver, start_http
from tests.shop import VIPS, run_shop, write_shop
from tiers.store.schema import ledger


@pytest.fixture
def http():
    receiver = Receiver()
    server, base = start_http(receiver)
    yield receiver, base
    server.shutdown()


def hook(url: str, extra: str = "") -> str:
    return f"""
        - type: webhook
          id: crm
          when: {{tier: vip}}
          url: {url}
          secret_env: HOOK_SECRET
          backoff: 0.01
          fields: [tier, spend]
        {extra}"""


def keys(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = dict(conn.execute(sa.select(ledger.c.customer_id, ledger.c.key)).all())
    engine.dispose()
    return out


def test_one_signed_post_per_intent_with_its_key(tmp_path, http, monkeypatch):
    receiver, base = http
    monkeypatch.setenv("HOOK_SECRET", "topsecret")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    run_shop(write_shop(tmp_path, hook(base + "/hook")), url)
    assert sorted(r["json"]["customer_id"] for r in receiver.requests) == VIPS
    expected = keys(url)
    for r in receiver.requests:
        body = r["body"]
        assert r["headers"]["Idempotency-Key"] == expected[r["json"]["customer_id"]]
        assert r["json"]["key"] == r["headers"]["Idempotency-Key"]
        mac = hmac.new(b"topsecret", body, hashlib.sha256).hexdigest()
        assert r["headers"]["X-Tiers-Signature"] == f"sha256={mac}"
        assert set(r["json"]["customer"]) == {"customer_id", "tier", "spend"}
        assert r["json"]["event"] == "tier" and r["json"]["detail"] == "vip"
    run_shop(write_shop(tmp_path, hook(base + "/hook")), url)  # same period: nothing again
    assert len(receiver.requests) == 3


def test_retries_on_503_then_succeeds(tmp_path, http, monkeypatch):
    receiver, base = http
    monkeypatch.setenv("HOOK_SECRET", "s")
    receiver.script["/flaky"] = [503, 429]  # the first two answers, then 200
    result = run_shop(write_shop(tmp_path, hook(base + "/flaky")),
                      f"sqlite:///{tmp_path / 'state.db'}")
    assert result.applied.done == 3
    first_key = receiver.requests[0]["headers"]["Idempotency-Key"]
    assert receiver.keys().count(first_key) == 3  # two retries with the same key
    assert len(receiver.requests) == 5


def test_client_error_fails_that_intent_only_without_retry(tmp_path, http, monkeypatch):
    receiver, base = http
    monkeypatch.setenv("HOOK_SECRET", "s")
    receiver.fail_customers = {"C2"}
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ruleset = write_shop(tmp_path, hook(base + "/hook"))
    result = run_shop(ruleset, url)
    assert (result.applied.done, result.applied.failed) == (2, 1)
    assert "HTTP 400" in result.applied.actions[0].errors[0]
    assert len(receiver.requests) == 3
    receiver.fail_customers = set()
    again = run_shop(ruleset, url)  # resumes only the failed one
    assert (again.applied.actions[0].resumed, again.applied.done) == (1, 1)
    assert [r["json"]["customer_id"] for r in receiver.requests[3:]] == ["C2"]


def test_batched_posts_carry_several_intents(tmp_path, http, monkeypatch):
    receiver, base = http
    monkeypatch.setenv("HOOK_SECRET", "s")
    run_shop(write_shop(tmp_path, hook(base + "/batch", "  batch: 2")),
             f"sqlite:///{tmp_path / 'state.db'}")
    sizes = [len(r["json"]["intents"]) for r in receiver.requests]
    assert sizes == [2, 1]
    batch_keys = [i["key"] for i in receiver.requests[0]["json"]["intents"]]
    assert receiver.requests[0]["headers"]["Idempotency-Key"] == hashlib.sha256(
        "".join(batch_keys).encode()).hexdigest()[:32]


def test_missing_secret_fails_every_intent_with_the_fix(tmp_path, http, monkeypatch):
    receiver, base = http
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    result = run_shop(write_shop(tmp_path, hook(base + "/hook")),
                      f"sqlite:///{tmp_path / 'state.db'}")
    assert result.applied.failed == 3 and receiver.requests == []
    assert "HOOK_SECRET" in result.applied.actions[0].errors[0]


def test_bad_url_is_a_ruleset_problem(tmp_path):
    from tiers.core.errors import RulesetError

    with pytest.raises(RulesetError, match="is not an http"):
        run_shop(write_shop(tmp_path, hook("ftp://x")), f"sqlite:///{tmp_path / 's.db'}")
