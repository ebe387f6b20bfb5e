"""The email action's safety rules against a real SMTP server (aiosmtpd): a password never
goes in cleartext to a host that is not loopback unless the ruleset opts out, and every
recipient is exactly one mailbox."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import write_csv
from tests.shop import run_shop, write_shop
from tiers.core.errors import RulesetError
from tiers.store.schema import ledger


class Envelopes:
    """Keeps the envelope recipients and the To header of every message received."""

    def __init__(self) -> None:
        self.rcpts: list[list[str]] = []
        self.to: list[str] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email

        self.rcpts.append(list(envelope.rcpt_tos))
        self.to.append(email.message_from_bytes(envelope.content)["To"])
        return "250 OK"


def outward_address() -> str:
    """An address of this machine that is not loopback (the one its default route uses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the interface
        return s.getsockname()[0]


def start(sink: Envelopes, host: str) -> Any:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        sink.logins.append(auth_data.password.decode())
        return AuthResult(success=True)

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname=host, port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    return controller


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    monkeypatch.setenv("SMTP_USER", "mailer")
    monkeypatch.setenv("SMTP_PASSWORD", "pw-in-the-clear")


def mail(host: str, port: int, smtp_extra: str = "", extra: str = "") -> str:
    return f"""
        - type: email
          id: vip_mail
          when: {{tier: vip}}
          template: tier_up
          from: "Shop Club <club@shop.example>"
          transport: smtp
          smtp: {{host: "{host}", port: {port}, username_env: SMTP_USER,
                  password_env: SMTP_PASSWORD{smtp_extra}}}
        {extra}"""


# ---- no password in cleartext ---------------------------------------------------------------

@pytest.fixture
def outward():
    sink = Envelopes()
    host = outward_address()
    controller = start(sink, host)
    yield sink, host, controller.port
    controller.stop()


def test_password_without_tls_to_another_host_is_refused_at_load(tmp_path, outward):
    sink, host, port = outward
    ruleset = write_shop(tmp_path, mail(host, port))
    with pytest.raises(RulesetError) as e:
        run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")
    (problem,) = e.value.problems
    assert f"would send the password to {host} without TLS" in problem.message
    assert problem.file.endswith("shop.yaml") and problem.line is not None
    assert "starttls: true" in problem.hint and "allow_plaintext_auth" in problem.hint
    assert sink.logins == [] and sink.rcpts == []  # not even connected
    assert not (tmp_path / "state.db").exists()


def test_explicit_opt_out_sends_with_the_password(tmp_path, outward):
    sink, host, port = outward
    ruleset = write_shop(tmp_path, mail(host, port, ", allow_plaintext_auth: true"))
    result = run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")
    assert result.applied.done == 3
    assert sink.logins == ["pw-in-the-clear"] and len(sink.rcpts) == 3


@pytest.mark.parametrize("host, smtp_extra, refused", [
    ("mail.example.com", "", True),
    ("mail.example.com", ", starttls: true", False),
    ("mail.example.com", ", ssl: true", False),
    ("localhost", "", False),
    ("127.0.0.1", "", False),
    ("::1", "", False),
    ("127.0.0.1.example.com", "", True),  # a name, however it looks, is not loopback
])
def test_which_hosts_and_transports_may_carry_a_password(tmp_path, host, smtp_extra, refused):
    from tiers.core.plugins import get_plugin_manager
    from tiers.ruleset.loader import load_ruleset

    ruleset = write_shop(tmp_path, mail(host, 2525, smtp_extra))
    pm, registry = get_plugin_manager(entry_points=False)
    if refused:
        with pytest.raises(RulesetError, match="without TLS"):
            load_ruleset(ruleset, registry=registry, pm=pm)
    else:
        load_ruleset(ruleset, registry=registry, pm=pm)


# ---- exactly one mailbox per recipient ------------------------------------------------------

BAD = {
    "B1": "victim@example.com, attacker@evil.example",
    "B2": "b2@example.com\nBcc: attacker@evil.example",
    "B3": "b3@example.com; attacker@evil.example",
    "B4": "b4@example.com attacker@evil.example",
    "B5": "b5@ex@evil.example",
    "B6": "Ann <b6@example.com>, attacker@evil.example",
    "B7": "b7@example.com\r",
}
GOOD = {"G1": "g1@example.com", "G2": "Gus Good <g2@example.com>"}


def hostile_shop(folder: Path, actions: str) -> Path:
    ruleset = write_shop(folder, actions)
    people = {**BAD, "G1": GOOD["G1"], "G2": GOOD["G2"]}  # bad ones first, in one batch
    write_csv(folder / "data" / "customers.csv", ["customer_id", "name", "email", "locale"],
              [(c, c, addr, "en") for c, addr in people.items()])
    write_csv(folder / "data" / "orders.csv", ["order_id", "customer_id", "order_ts", "amount"],
              [(f"O{c}", c, "2026-05-01 10:00:00", "6000.00") for c in people])
    return ruleset


def ledger_by_customer(url: str) -> dict[str, dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {r.customer_id: dict(r._mapping) for r in conn.execute(sa.select(ledger))}
    engine.dispose()
    return out


@pytest.fixture
def local():
    sink = Envelopes()
    controller = start(sink, "127.0.0.1")
    yield sink, controller.port
    controller.stop()


def test_each_bad_address_fails_alone_and_the_others_are_sent(tmp_path, local):
    sink, port = local
    url = f"sqlite:///{tmp_path / 'state.db'}"
    result = run_shop(hostile_shop(tmp_path, mail("127.0.0.1", port)), url)
    (stats,) = result.applied.actions
    assert (stats.done, stats.failed, stats.stopped) == (2, len(BAD), 0)
    # only the good ones got mail, one envelope recipient each
    assert sorted(sink.rcpts) == [["g1@example.com"], ["g2@example.com"]]
    assert sorted(sink.to) == ["Gus Good <g2@example.com>", "g1@example.com"]
    assert not any("evil" in r for rcpts in sink.rcpts for r in rcpts)
    rows = ledger_by_customer(url)
    for cid in BAD:
        assert rows[cid]["status"] == "failed"
        assert f"customer {cid}: address in column 'email' refused" in rows[cid]["error"]
    assert "line break" in rows["B2"]["error"] and "exactly one @" in rows["B5"]["error"]
    assert {rows[c]["status"] for c in GOOD} == {"done"}


def test_outbox_applies_the_same_rule(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    result = run_shop(hostile_shop(tmp_path, """
        - type: email
          when: {tier: vip}
          template: tier_up
          from: club@shop.example
          outbox: mail/out
        """), url)
    assert (result.applied.done, result.applied.failed) == (2, len(BAD))
    written = [p.read_text() for p in (tmp_path / "mail" / "out").glob("*.eml")]
    assert len(written) == 2 and not any("evil" in text for text in written)


@pytest.mark.parametrize("sender", ["club@shop.example, attacker@evil.example",
                                    "club@shop.example\\nBcc: attacker@evil.example",
                                    "no-at-sign"])
def test_sender_must_be_one_mailbox(tmp_path, local, sender):
    _, port = local
    ruleset = write_shop(tmp_path, mail("127.0.0.1", port).replace(
        '"Shop Club <club@shop.example>"', f'"{sender}"'))
    with pytest.raises(RulesetError) as e:
        run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")
    (problem,) = e.value.problems
    assert problem.message.startswith("from: ") and problem.line is not None


# ---- TLS means a verified certificate --------------------------------------------------------

@pytest.fixture
def tls_server(tmp_path):
    """aiosmtpd on 127.0.0.1 that requires STARTTLS before AUTH, with a certificate of its
    own CA (made here with openssl), written next to the ruleset as ca.pem."""
    import ssl
    import subprocess

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "ca.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "ca.pem", tmp_path / "key.pem")
    sink = Envelopes()

    def authenticator(server, session, envelope, mechanism, auth_data):
        sink.logins.append(auth_data.password.decode())
        return AuthResult(success=True)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_require_tls=True,
                            authenticator=authenticator, auth_required=True)
    controller.start()
    yield sink, port
    controller.stop()


def test_starttls_with_the_servers_ca_sends_with_the_password(tmp_path, tls_server):
    sink, port = tls_server
    ruleset = write_shop(tmp_path, mail("127.0.0.1", port, ", starttls: true, ca_file: ca.pem"))
    result = run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")
    assert result.applied.done == 3
    assert sink.logins == ["pw-in-the-clear"] and len(sink.rcpts) == 3


def test_starttls_to_an_unverified_certificate_sends_nothing(tmp_path, tls_server):
    sink, port = tls_server
    ruleset = write_shop(tmp_path, mail("127.0.0.1", port, ", starttls: true"))
    result = run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")
    assert (result.applied.done, result.applied.failed) == (0, 3)
    assert "CERTIFICATE_VERIFY_FAILED" in result.applied.actions[0].errors[0]
    assert sink.logins == [] and sink.rcpts == []  # no password went to that server


def test_missing_ca_file_is_a_ruleset_problem(tmp_path):
    ruleset = write_shop(tmp_path, mail("smtp.example.com", 587,
                                        ", starttls: true, ca_file: nowhere.pem"))
    with pytest.raises(RulesetError, match=r"ca_file 'nowhere\.pem' does not exist"):
        run_shop(ruleset, f"sqlite:///{tmp_path / 'state.db'}")
