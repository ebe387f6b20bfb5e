"""`webhook_notify`: a Slack-style incoming-webhook message per customer in chosen tiers.

tiers plans one intent per customer that ``when:`` selects; ``prepare`` writes each message
into its intent (a dry run shows them), and ``apply`` POSTs ``{"text": ...}`` as JSON, one
request per intent, with an ``Idempotency-Key`` header carrying the intent's stable key so that
the receiver can drop a repeat (after a crash an intent in flight is posted again). The webhook URL
usually holds a secret token: write it as ``${SLACK_WEBHOOK_URL}`` in the ruleset; messages
name only the host, never the URL.
"""

from __future__ import annotations

import json
import string
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from pydantic import Field

from tiers import (
    Action,
    ActionConfig,
    ApplyContext,
    Intent,
    Outcome,
    PlanInput,
    Problem,
    hookimpl,
)

FIELDS = ("customer_id", "tier", "tier_name")


class WebhookNotifyConfig(ActionConfig):
    url: str = Field(description="incoming webhook URL; use ${SLACK_WEBHOOK_URL}")
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
    description = "post a Slack-style webhook message per customer `when:` selects"
    Config: ClassVar[type[WebhookNotifyConfig]] = WebhookNotifyConfig

    def check(self) -> list[Problem]:
        problems = super().check()
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

    def prepare(self, intents: list[Intent], inp: PlanInput) -> list[Intent]:
        names = {tier.id: tier.label for tier in self.context.ruleset.tiers}
        parts = template_parts(self.config.text)
        for intent in intents:
            tier = intent.payload["customer"]["tier"]
            values = {"customer_id": intent.customer_id, "tier": tier,
                      "tier_name": names.get(tier, tier)}
            intent.payload = {"text": "".join(v if kind == "literal" else values[v]
                                              for kind, v in parts), "tier": tier}
        return intents

    def describe(self, intent: Intent) -> str:
        return f"{intent.customer_id}: {intent.payload['text']}"

    def apply(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        """POST each intent; a refusal fails that intent (the next run tries it again)."""
        host = urllib.parse.urlsplit(self.config.url).netloc.rsplit("@", 1)[-1]
        for intent in intents:
            request = urllib.request.Request(
                self.config.url, method="POST",
                data=json.dumps({"text": intent.payload["text"]}).encode("utf-8"),
                headers={"Content-Type": "application/json", "Idempotency-Key": intent.key})
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                yield Outcome(intent.key, "failed", error=f"webhook at {host} answered "
                              f"{exc.code}")
                continue
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                yield Outcome(intent.key, "failed", error=f"webhook at {host} could not be "
                              f"reached ({reason})")
                continue
            yield Outcome(intent.key, "done", {"status": 200})


@hookimpl
def register_actions(register: Any) -> None:
    register(WebhookNotifyAction)
