"""The email action against a real SMTP server (aiosmtpd on 127.0.0.1), and its templates."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.servers import SmtpSink, start_smtp
from tests.shop import VIPS, run_shop, write_shop
from tiers.actions.templates import TemplateError
from tiers.store.schema import ledger


@pytest.fixture
def smtp():
    sink = SmtpSink()
    controller = start_smtp(sink, auth=("mailer", "s3cret"))
    yield sink, controller.port
    controller.stop()


def email_action(port: int, extra: str = "") -> str:
    return f"""
        - type: email
          id: vip_mail
          when: {{tier: vip}}
          template: tier_up
          from: "Shop Club <club@shop.example>"
          transport: smtp
          smtp: {{host: 127.0.0.1, port: {port}, username_env: SMTP_USER,
                  password_env: SMTP_PASSWORD}}
          batch_size: 2
        {extra}"""


@pytest.fixture(autouse=True)
def smtp_credentials(monkeypatch):
    monkeypatch.setenv("SMTP_USER", "mailer")
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")


def ledger_rows(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(sa.select(ledger))]
    engine.dispose()
    return out


def test_vips_get_one_mail_each_with_locale_subject_and_escaped_html(tmp_path, smtp):
    sink, port = smtp
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ruleset = write_shop(tmp_path, email_action(port))
    result = run_shop(ruleset, url)
    assert result.applied.done == 3 and result.applied.failed == 0
    assert sorted(m["To"] for m in sink.messages) == [f"{c.lower()}@example.com" for c in VIPS]
    by_to = {m["To"]: m for m in sink.messages}
    assert by_to["c1@example.com"]["Subject"] == "Welcome to VIP, Ann"
    assert by_to["c2@example.com"]["Subject"] == "欢迎成为VIP，李雷"  # zh-CN override
    assert by_to["c5@example.com"]["Subject"] == "Welcome to VIP, Eve <b>"  # fr -> fallback
    html = by_to["c5@example.com"].get_body(("html",)).get_content()
    assert "Eve &lt;b&gt;" in html and "<b>VIP</b>" in html  # autoescaped values only
    text = by_to["c1@example.com"].get_body(("plain",)).get_content()
    assert "Hello Ann, you are now VIP. Spend: 6000" in text
    keys = {r["customer_id"]: r["key"] for r in ledger_rows(url)}
    for m in sink.messages:
        cid = m["To"].split("@")[0].upper()
        assert m["Message-ID"] == f"<{keys[cid]}@shop.example>"
        assert m["X-Tiers-Key"] == keys[cid]
        assert m["From"] == "Shop Club <club@shop.example>"
    assert sink.logins == [("mailer", "s3cret")] * 2  # one connection per batch of 2
    assert {r["status"] for r in ledger_rows(url)} == {"done"}


def test_same_period_again_sends_nothing(tmp_path, smtp):
    sink, port = smtp
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ruleset = write_shop(tmp_path, email_action(port))
    run_shop(ruleset, url)
    again = run_shop(ruleset, url)
    (stats,) = again.applied.actions
    assert (stats.planned, stats.new, stats.done) == (3, 0, 0)
    assert len(sink.messages) == 3


@pytest.mark.parametrize("body, needle, line", [
    ("Hi {{ name }}\n{{ ''.__class__.__mro__ }}", "Python internals", 2),
    ("Hi {{ name }}\n\nCode: {{ coupon_code }}", "coupon_code", 3),
])
def test_unsafe_or_undefined_template_fails_before_sending(tmp_path, smtp, body, needle, line):
    sink, port = smtp
    url = f"sqlite:///{tmp_path / 'state.db'}"
    (tmp_path / "templates" / "tier_up").mkdir(parents=True)
    (tmp_path / "templates" / "tier_up" / "body.txt").write_text(body, encoding="utf-8")
    ruleset = write_shop(tmp_path, email_action(port))
    with pytest.raises(TemplateError) as e:
        run_shop(ruleset, url)
    message = str(e.value)
    assert f"tier_up/body.txt:{line}:" in message and needle in message
    assert "Nothing was sent" in message
    assert sink.messages == [] and sink.seen == 0
    assert ledger_rows(url) == []


def test_template_syntax_error_is_a_ruleset_problem_with_its_line(tmp_path, smtp):
    from tiers.core.errors import RulesetError

    _, port = smtp
    (tmp_path / "templates" / "tier_up").mkdir(parents=True)
    (tmp_path / "templates" / "tier_up" / "body.txt").write_text("ok\n{% if %}\n")
    ruleset = write_shop(tmp_path, email_action(port))
    with pytest.raises(RulesetError) as e:
        run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")
    (problem,) = e.value.problems
    assert problem.file.endswith("tier_up/body.txt") and problem.line == 2


def test_missing_credentials_env_is_reported_at_load(tmp_path, smtp, monkeypatch):
    from tiers.core.errors import RulesetError

    _, port = smtp
    monkeypatch.delenv("SMTP_PASSWORD")
    ruleset = write_shop(tmp_path, email_action(port))
    with pytest.raises(RulesetError, match="environment variable SMTP_PASSWORD is not set"):
        run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")


def test_outbox_writes_one_eml_per_intent(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ruleset = write_shop(tmp_path, """
        - type: email
          when: {tier: vip}
          template: tier_up
          from: club@shop.example
          outbox: mail/out
        """)
    run_shop(ruleset, url)
    run_shop(ruleset, url, as_of="2026-06-02")  # a new period: a second mail per VIP
    files = sorted((tmp_path / "mail" / "out").glob("*.eml"))
    keys = sorted(r["key"] for r in ledger_rows(url))
    assert [f.stem for f in files] == keys and len(keys) == 6
    assert b"Message-ID: <" in files[0].read_bytes()


def test_refused_recipient_fails_only_that_intent_and_resumes(tmp_path, smtp):
    sink, port = smtp
    url = f"sqlite:///{tmp_path / 'state.db'}"
    from tests import shop

    original = shop.CUSTOMERS[1]
    shop.CUSTOMERS[1] = ("C2", "李雷", "", "zh-CN", 5500)  # no address
    try:
        ruleset = write_shop(tmp_path, email_action(port))
        first = run_shop(ruleset, url)
    finally:
        shop.CUSTOMERS[1] = original
    assert (first.applied.done, first.applied.failed) == (2, 1)
    assert "C2 has no address" in first.applied.actions[0].errors[0]
    write_shop(tmp_path, email_action(port))  # the address is fixed in the data
    second = run_shop(ruleset, url)
    (stats,) = second.applied.actions
    assert (stats.resumed, stats.done, stats.failed) == (1, 1, 0)
    assert sorted(m["To"] for m in sink.messages) == [
        "c1@example.com", "c2@example.com", "c5@example.com"]
