"""`webhook_notify`: a Slack-style incoming-webhook message per customer in chosen tiers.

``plan`` builds the messages as a columnar expression (no side effects: a dry run shows them);
``apply`` POSTs ``{"text": ...}`` as JSON, one request per intent, with an ``Idempotency-Key``
header carrying the intent's stable key so that the receiver can drop a repeat. The webhook URL
usually holds a secret token: write it as ``${SLACK_WEBHOOK_URL}`` in the ruleset; messages
name only the host, never the URL.
"""

from __future__ import annotations

import json
import string
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers import Action, ComponentConfig, Problem, TiersError, hookimpl

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

FIELDS = ("customer_id", "tier", "tier_name")


class WebhookError(TiersError):
    """The webhook could not be reached or refused a message."""

    exit_code = 5


class WebhookNotifyConfig(ComponentConfig):
    url: str = Field(description="incoming webhook URL; use ${SLACK_WEBHOOK_URL}")
    tiers: list[str] = Field(min_length=1, description="notify about customers in these tiers")
    text: str = Field(default="Customer $customer_id is now $tier_name",
                      description="message; $customer_id, $tier and $tier_name are filled in")
    timeout: float = Field(default=10, gt=0, description="seconds to wait for the webhook")


def template_parts(text: str) -> list[tuple[str, str]]:
    """("literal", text) and ("field", name) parts of a $-template; raises ValueError."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in string.Template.pattern.finditer(text):
        parts.append(("literal", text[pos:m.start()]))
        if m.group("escaped") is not None:
            parts.append(("literal", "$"))
        elif m.group("invalid") is not None:
            raise ValueError(f"a lone `$` at character {m.start()}; write $$ for a dollar sign")
        else:
            name = m.group("named") or m.group("braced")
            if name not in FIELDS:
                raise ValueError(f"unknown field ${name}; use {', '.join('$' + f for f in FIELDS)}")
            parts.append(("field", name))
        pos = m.end()
    parts.append(("literal", text[pos:]))
    return [p for p in parts if p != ("literal", "")]


class WebhookNotifyAction(Action):
    name = "webhook_notify"
    description = "post a Slack-style webhook message per customer in the chosen tiers"
    Config: ClassVar[type[WebhookNotifyConfig]] = WebhookNotifyConfig

    def check(self) -> list[Problem]:
        problems = []
        tier_ids = self.context.ruleset.tier_ids()
        for i, tier in enumerate(self.config.tiers):
            if tier not in tier_ids:
                problems.append(self.context.problem(
                    f"tier {tier!r} is not defined under `tiers:`", "tiers", i,
                    hint=f"use one of: {', '.join(tier_ids)}"))
        try:
            template_parts(self.config.text)
        except ValueError as exc:
            problems.append(self.context.problem(f"bad message template: {exc}", "text"))
        scheme = urllib.parse.urlsplit(self.config.url).scheme
        if scheme not in ("http", "https"):
            problems.append(self.context.problem(
                "the webhook URL must start with https:// (or http://)", "url",
                hint="copy the full incoming-webhook URL into ${SLACK_WEBHOOK_URL}"))
        return problems

    def plan(self, evaluation: Any) -> ir.Table:
        import ibis

        t = evaluation.table
        chosen = t.filter(t.tier.isin(self.config.tiers))
        names = {tier.id: tier.label for tier in evaluation.ruleset.model.tiers}
        values = {
            "customer_id": chosen.customer_id.cast("string"),
            "tier": chosen.tier,
            "tier_name": chosen.tier.substitute(names),
        }
        text = ibis.literal("")
        for kind, value in template_parts(self.config.text):
            text = text + (ibis.literal(value) if kind == "literal" else values[value])
        prefix = ibis.literal(f"{evaluation.ruleset.name}:{self.id}:")
        return chosen.select(
            key=prefix + values["customer_id"] + ibis.literal(":") + chosen.tier,
            customer_id=values["customer_id"], tier=chosen.tier, text=text,
        ).order_by("key")

    def apply(self, intents: pa.Table) -> int:
        """POST each intent; returns how many were sent. Stops at the first failure."""
        host = urllib.parse.urlsplit(self.config.url).netloc
        sent = 0
        for intent in intents.to_pylist():
            request = urllib.request.Request(
                self.config.url, method="POST",
                data=json.dumps({"text": intent["text"]}).encode("utf-8"),
                headers={"Content-Type": "application/json",
                         "Idempotency-Key": intent["key"]})
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                raise WebhookError(f"webhook at {host} answered {exc.code} for {intent['key']}; "
                                   f"{sent} of {intents.num_rows} sent") from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise WebhookError(f"webhook at {host} could not be reached ({reason}); "
                                   f"{sent} of {intents.num_rows} sent") from None
            sent += 1
        return sent


@hookimpl
def register_actions(register: Any) -> None:
    register(WebhookNotifyAction)
