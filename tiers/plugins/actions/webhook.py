"""`webhook`: POST each intent (or a batch of them) as JSON to a URL.

Every request carries an ``Idempotency-Key`` header (the intent's key, or a hash of the batch's
keys) so a receiver can drop a repeat, and, with a secret, an ``X-Tiers-Signature:
sha256=<hex>`` HMAC of the body. 429 and 5xx answers and connection errors are retried with
exponential backoff (``Retry-After`` is honoured); other answers fail the intent.

Credentials in the URL (a password, a ``token``/``api_key``/``sig``... query value) and in
secret-looking headers are masked wherever the URL or an error is shown or stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from tiers.core.action import Action, ActionConfig, ApplyContext, Intent, Outcome
from tiers.core.errors import Problem
from tiers.core.hookspecs import hookimpl
from tiers.core.redact import SECRET_NAME, known, redact_text, redact_url, url_secrets

if TYPE_CHECKING:
    import pyarrow as pa

SIGNATURE_HEADER = "X-Tiers-Signature"


class WebhookConfig(ActionConfig):
    url: str = Field(description="endpoint receiving the POSTs")
    secret_env: str | None = Field(
        default=None, description="env var with the HMAC secret for the signature header")
    batch: int = Field(default=1, ge=1, le=10_000,
                       description="intents per request; 1 posts each intent on its own")
    retries: int = Field(default=4, ge=0, le=20, description="retries on 429/5xx/network")
    backoff: float = Field(default=0.5, ge=0, description="first retry delay in seconds, "
                           "doubled each time")
    timeout: float = Field(default=10, gt=0, description="seconds per request")
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers")
    fields: list[str] | None = Field(
        default=None, description="customer columns to send; all when omitted")


def batched(items: Iterable[Intent], n: int) -> Iterator[list[Intent]]:
    """Groups of ``n``, taking each intent only when its group is sent."""
    group: list[Intent] = []
    for item in items:
        group.append(item)
        if len(group) == n:
            yield group
            group = []
    if group:
        yield group


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookAction(Action):
    name = "webhook"
    description = "POST JSON per intent or batch, signed, with an Idempotency-Key"
    Config: ClassVar[type[WebhookConfig]] = WebhookConfig

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return max(self.config.batch, 50)

    def secrets(self) -> list[str]:
        """Values never to show: the URL's credentials, secret-looking header values (an
        ``Authorization`` token) and the signing secret."""
        values = url_secrets(self.config.url)
        for name, value in self.config.headers.items():
            if SECRET_NAME.search(name) or name.lower() in ("cookie", "proxy-authorization"):
                values += [value, *value.split()[1:]]  # "Bearer xyz": xyz alone too
        return known([*values, getattr(self, "_secret", None)])

    @property
    def shown_url(self) -> str:
        """The URL as messages and the ledger may hold it."""
        return redact_url(self.config.url, self.secrets())

    def check(self) -> list[Problem]:
        problems = super().check()
        if not self.config.url.startswith(("http://", "https://")):
            problems.append(self.context.problem(
                f"url {self.shown_url!r} is not an http(s) URL", "url",
                hint="write the full URL, e.g. https://crm.example.com/hooks/tiers"))
        return problems

    def cost_figures(self, rows: pa.Table) -> dict[str, float]:
        batch = self.config.batch
        return {"webhook intents": rows.num_rows, "requests": -(-rows.num_rows // batch)}

    def _body(self, intent: Intent) -> dict[str, Any]:
        customer = intent.payload.get("customer", {})
        if self.config.fields is not None:
            customer = {k: customer.get(k) for k in ["customer_id", *self.config.fields]}
        return {"key": intent.key, "ruleset": self.context.ruleset.name, "action": self.id,
                "customer_id": intent.customer_id, "event": intent.event,
                "detail": intent.detail, "period": intent.period, "customer": customer}

    def start(self, ctx: ApplyContext) -> None:
        import httpx

        self._secret = None
        if self.config.secret_env:
            self._secret = os.environ.get(self.config.secret_env)
            if not self._secret:
                raise RuntimeError(f"environment variable {self.config.secret_env} (the "
                                   "webhook signing secret) is not set; export it and run "
                                   "`tiers run` again")
        self._client = httpx.Client(timeout=self.config.timeout)

    def finish(self, ctx: ApplyContext) -> list[str]:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
        return []

    def _post(self, body: bytes, key: str) -> tuple[bool, str]:
        import httpx

        headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                   **self.config.headers}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        last = ""
        for attempt in range(self.config.retries + 1):
            delay = self.config.backoff * (2 ** attempt)
            try:
                resp = self._client.post(self.config.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                last = redact_text(f"{type(exc).__name__}: {exc}", self.secrets())
            else:
                if resp.status_code < 300:
                    return True, str(resp.status_code)
                last = redact_text(f"HTTP {resp.status_code}: {resp.text[:200]}",
                                   self.secrets())
                if resp.status_code != 429 and resp.status_code < 500:
                    return False, last
                after = resp.headers.get("Retry-After", "")
                if after.isdigit():
                    delay = min(float(after), 60.0)
            if attempt < self.config.retries:
                time.sleep(delay)
        return False, f"{last} (after {self.config.retries + 1} attempts)"

    def apply(self, intents: Iterable[Intent], ctx: ApplyContext) -> Iterator[Outcome]:
        step = self.config.batch
        for group in batched(intents, step):
            if step == 1:
                key = group[0].key
                payload: Any = self._body(group[0])
            else:
                key = hashlib.sha256("".join(x.key for x in group).encode()).hexdigest()[:32]
                payload = {"ruleset": self.context.ruleset.name, "action": self.id,
                           "intents": [self._body(x) for x in group]}
            body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
            ok, info = self._post(body, key)
            for intent in group:
                if ok:
                    yield Outcome(intent.key, "done", {"status": info, "request_key": key})
                else:
                    yield Outcome(intent.key, "failed",
                                  error=f"POST {self.shown_url} failed: {info}")


@hookimpl
def register_actions(register: Any) -> None:
    register(WebhookAction)
