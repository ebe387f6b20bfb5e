"""`email`: templated mail per intent, over SMTP or into an outbox folder of .eml files.

Templates live in ``<templates>/<template>/`` next to the ruleset: ``subject.txt``,
``body.txt`` and optionally ``body.html``, each overridable per locale in a sub-folder
(``zh-CN/subject.txt``); the customer's locale falls back to its language (``zh``), then
``default_locale``, then the folder itself. Everything is rendered while planning, so a bad
template stops the run before any mail leaves.

Every recipient is exactly one mailbox (:mod:`tiers.plugins.actions.mailbox`): a customer
address holding two addresses or a line break fails that intent alone, with the reason in the
ledger. A password goes only over TLS (``starttls`` or ``ssl``), except to a loopback host or
with ``allow_plaintext_auth: true``; the ruleset is refused at load otherwise.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from tiers import render_template, template_environment, template_problems
from tiers.core.action import Action, ActionConfig, ApplyContext, Intent, Outcome, PlanInput
from tiers.core.errors import Problem
from tiers.core.files import write_bytes
from tiers.core.hookspecs import hookimpl
from tiers.plugins.actions.mailbox import BadAddress, mailbox

if TYPE_CHECKING:
    import smtplib
    import ssl
    from email.message import EmailMessage

    import pyarrow as pa
from tiers.core.interfaces import ComponentConfig

PARTS = ("subject.txt", "body.txt", "body.html")


class SmtpConfig(ComponentConfig):
    host: str = Field(default="localhost", description="SMTP server")
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = Field(default=False, description="upgrade the connection with STARTTLS")
    ssl: bool = Field(default=False, description="connect with implicit TLS (port 465)")
    username_env: str | None = Field(default=None, description="env var holding the user")
    password_env: str | None = Field(default=None, description="env var holding the password")
    timeout: float = Field(default=30, gt=0, description="seconds per SMTP command")
    ca_file: str | None = Field(
        default=None, description="PEM file of the CA that signed the server's certificate "
        "(a private CA), relative to the ruleset; the system's CAs by default")
    allow_plaintext_auth: bool = Field(
        default=False, description="send the password without TLS to a host that is not "
        "loopback (anyone on the path can read it); off by default")

    @property
    def authenticates(self) -> bool:
        """Whether tiers logs in (it does when a user is configured)."""
        return bool(self.username_env)

    @property
    def encrypted(self) -> bool:
        return self.ssl or self.starttls


def is_loopback(host: str) -> bool:
    """The host is this machine by its literal name: ``localhost`` or a loopback IP (a name
    is not resolved, since what it resolves to can change before the mail is sent)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cleartext_auth_refused(s: SmtpConfig) -> bool:
    return (s.authenticates and not s.encrypted and not s.allow_plaintext_auth
            and not is_loopback(s.host))


class EmailConfig(ActionConfig):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    template: str = Field(description="template folder name under `templates`")
    templates: str = Field(default="templates", description="folder of templates, relative "
                           "to the ruleset")
    sender: str = Field(alias="from", description="From: address, e.g. 'Shop <club@shop.cn>'")
    to: str = Field(default="email", description="customer column with the address")
    locale: str = Field(default="locale", description="customer column with the locale")
    default_locale: str = "en"
    transport: Literal["outbox", "smtp"] = Field(
        default="outbox", description="outbox: write .eml files; smtp: deliver")
    outbox: str = Field(default=".tiers/outbox", description="folder for .eml files")
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    rate_limit: float | None = Field(default=None, gt=0, description="messages per second")
    batch_size: int = Field(default=100, ge=1, description="messages per SMTP connection")


def _domain(sender: str) -> str:
    addr = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return addr.rsplit("@", 1)[-1] if "@" in addr else "tiers.local"


class EmailAction(Action):
    name = "email"
    description = "templated e-mail (subject, text, HTML per locale) via SMTP or an outbox"
    Config: ClassVar[type[EmailConfig]] = EmailConfig

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return self.config.batch_size

    @property
    def folder(self) -> Path:
        return self.context.resolve(self.config.templates)

    def _env(self) -> Any:
        if not hasattr(self, "_jinja"):
            pm = getattr(self.context, "pm", None)
            self._jinja = template_environment(self.folder, pm)
        return self._jinja

    def check(self) -> list[Problem]:
        problems = super().check()
        base = self.folder / self.config.template
        if not base.is_dir():
            problems.append(self.context.problem(
                f"template folder {base} does not exist", "template",
                hint=f"create {base}/subject.txt and {base}/body.txt (and body.html)"))
            return problems
        for part in ("subject.txt", "body.txt"):
            if not any((d / part).is_file() for d in (base, base / self.config.default_locale)):
                problems.append(self.context.problem(
                    f"template {self.config.template!r} has no {part}", "template",
                    hint=f"add {base / part}"))
        names = sorted(str(p.relative_to(self.folder)) for p in base.rglob("*")
                       if p.is_file() and p.name in PARTS)
        problems += template_problems(self._env(), self.folder, names)
        try:
            mailbox(self.config.sender)
        except BadAddress as exc:
            problems.append(self.context.problem(
                f"from: {exc}", "from", hint="write one sender, e.g. "
                "'Shop Club <club@shop.example>'"))
        ca_file = self.config.smtp.ca_file
        if self.config.transport == "smtp" and ca_file and not self.context.resolve(
                ca_file).is_file():
            problems.append(self.context.problem(
                f"ca_file {ca_file!r} does not exist", "smtp", "ca_file",
                hint="give the PEM file of the CA that signed the SMTP server's certificate"))
        if self.config.transport == "smtp" and cleartext_auth_refused(self.config.smtp):
            problems.append(self.context.problem(
                f"smtp would send the password to {self.config.smtp.host} without TLS",
                "smtp", hint="set `starttls: true` (port 587) or `ssl: true` (port 465); "
                "only if the network path is trusted, `allow_plaintext_auth: true`"))
        if self.config.transport == "smtp":
            for var in (self.config.smtp.username_env, self.config.smtp.password_env):
                if var and var not in os.environ:
                    problems.append(self.context.problem(
                        f"environment variable {var} is not set", "smtp",
                        hint=f"export {var}=... before running tiers"))
        return problems

    def _part(self, locale: str | None, part: str) -> str | None:
        base = self.folder / self.config.template
        chain = []
        if locale:
            chain += [locale, locale.split("-")[0].split("_")[0]]
        chain += [self.config.default_locale, ""]
        for loc in dict.fromkeys(chain):
            if (base / loc / part).is_file():
                return str(Path(self.config.template, loc, part)) if loc else str(
                    Path(self.config.template, part))
        return None

    def prepare(self, intents: list[Intent], inp: PlanInput) -> list[Intent]:
        env = self._env()
        tier_names = {t.id: t.label for t in self.context.ruleset.tiers}
        domain = _domain(self.config.sender)
        for intent in intents:
            customer = intent.payload["customer"]
            locale = customer.get(self.config.locale) or self.config.default_locale
            context = {**customer, "customer": customer, "event": intent.event,
                       "detail": intent.detail, "tier_name": tier_names.get(
                           customer.get("tier"), customer.get("tier")),
                       "tier_names": tier_names, "ruleset": inp.ruleset,
                       "as_of": inp.as_of.date().isoformat(), "key": intent.key}
            rendered = {}
            for part in PARTS:
                name = self._part(str(locale), part)
                if name is not None:
                    rendered[part] = render_template(env, self.folder, name, context)
            intent.payload = {
                "to": customer.get(self.config.to),
                "subject": " ".join(rendered["subject.txt"].split()),
                "text": rendered["body.txt"], "html": rendered.get("body.html"),
                "locale": locale, "message_id": f"<{intent.key}@{domain}>",
                "customer_id": intent.customer_id,
            }
        return intents

    def cost_figures(self, rows: pa.Table) -> dict[str, float]:
        return {"emails": rows.num_rows}

    def describe(self, intent: Intent) -> str:
        return f"{intent.payload.get('to')}: {intent.payload.get('subject')}"

    def recipient(self, intent: Intent) -> str:
        """The intent's one mailbox; :class:`BadAddress` names the customer and the fault."""
        value = intent.payload.get("to")
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BadAddress(f"customer {intent.customer_id} has no address in column "
                             f"{self.config.to!r}")
        try:
            return mailbox(value)
        except BadAddress as exc:
            raise BadAddress(f"customer {intent.customer_id}: address in column "
                             f"{self.config.to!r} refused: {exc}; nothing was sent to it"
                             ) from None

    def message(self, intent: Intent) -> EmailMessage:
        # the mail and network modules load with the first message, not with every run
        from email.message import EmailMessage
        from email.utils import formatdate

        p = intent.payload
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = self.recipient(intent)
        msg["Subject"] = p["subject"]
        msg["Message-ID"] = p["message_id"]
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["X-Tiers-Key"] = intent.key
        msg.set_content(p["text"])
        if p.get("html"):
            msg.add_alternative(p["html"], subtype="html")
        return msg

    # ---- delivery ------------------------------------------------------------------------

    def start(self, ctx: ApplyContext) -> None:
        self._last_send = 0.0

    def _pace(self) -> None:
        if self.config.rate_limit:
            wait = self._last_send + 1.0 / self.config.rate_limit - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_send = time.monotonic()

    def apply(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        if self.config.transport == "outbox":
            yield from self._to_outbox(intents, ctx)
        else:
            yield from self._over_smtp(intents, ctx)

    def _to_outbox(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        folder = self.context.resolve(self.config.outbox)
        folder.mkdir(parents=True, exist_ok=True)
        for intent in intents:
            try:
                data = bytes(self.message(intent))
            except (BadAddress, ValueError) as exc:
                yield Outcome(intent.key, "failed", error=str(exc), own_fault=True)
                continue
            path = folder / f"{intent.key}.eml"
            write_bytes(path, data)  # a retry replaces it: never two copies
            yield Outcome(intent.key, "done", {"message_id": intent.payload["message_id"],
                                               "file": str(path)})

    def _tls(self) -> ssl.SSLContext:
        """Certificate and host name verified: TLS that anyone on the path could answer
        with their own certificate would hand them the password."""
        import ssl

        ca_file = self.config.smtp.ca_file
        return ssl.create_default_context(
            cafile=str(self.context.resolve(ca_file)) if ca_file else None)

    def _connect(self) -> smtplib.SMTP:
        import smtplib

        s = self.config.smtp
        if cleartext_auth_refused(s):  # check() refuses this ruleset; never send it anyway
            raise RuntimeError(f"refusing to send the SMTP password to {s.host} without TLS; "
                               "set starttls or ssl")
        if s.ssl:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                  context=self._tls())
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.starttls and not s.ssl:
            conn.starttls(context=self._tls())
        if s.authenticates:
            user = os.environ.get(s.username_env, "")
            password = os.environ.get(s.password_env or "", "")
            conn.login(user, password)
        return conn

    def _over_smtp(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        import smtplib
        from email.utils import getaddresses

        conn = self._connect()  # one connection per batch
        try:
            for intent in intents:
                try:
                    msg = self.message(intent)
                    to = getaddresses([self.recipient(intent)])[0][1]
                except (BadAddress, ValueError) as exc:
                    yield Outcome(intent.key, "failed", error=str(exc), own_fault=True)
                    continue
                self._pace()
                try:
                    # the envelope names the one checked mailbox, never what headers imply
                    refused = conn.send_message(msg, to_addrs=[to])
                except smtplib.SMTPRecipientsRefused as exc:  # this address, not the server
                    yield Outcome(intent.key, "failed", error=f"SMTP refused: {exc}",
                                  own_fault=True)
                    continue
                except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    yield Outcome(intent.key, "failed", error=f"SMTP refused: {exc}")
                    continue
                if refused:
                    yield Outcome(intent.key, "failed", error=f"SMTP refused: {refused}",
                                  own_fault=True)
                    continue
                yield Outcome(intent.key, "done", {"message_id": intent.payload["message_id"]})
        finally:
            try:
                conn.quit()
            except smtplib.SMTPException:
                conn.close()


@hookimpl
def register_actions(register: Any) -> None:
    register(EmailAction)
