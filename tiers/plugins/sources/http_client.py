"""GET with the manners a shared API expects: retries with backoff and jitter, Retry-After,
an optional rate limit, a timeout; and errors that say what to do.

Credentials go only to the configured origin (scheme, host and port). Redirects are followed
here, not by httpx, so that every hop is checked: a request to another origin (a redirect, a
next-page link) is sent without the auth headers and without query values that hold a secret,
and is counted so the run can say so.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiers.plugins.sources.redact import known, redact_text, redact_url

if TYPE_CHECKING:
    import httpx

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 10
DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpError(Exception):
    """The request failed for good; the message is meant for the user."""


@dataclass
class RetryPolicy:
    retries: int = 5
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_backoff: float = 30.0
    jitter: Callable[[], float] = field(default=lambda: random.uniform(0.5, 1.0))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return min(self.max_backoff, self.backoff * 2 ** attempt) * self.jitter()


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RateLimiter:
    """At most ``per_second`` requests per second, spaced evenly."""

    def __init__(self, per_second: float | None):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.next_at = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


Origin = tuple[str, str, int]


def origin_of(url: Any) -> Origin:
    import httpx

    u = httpx.URL(str(url))
    return (u.scheme, u.host, u.port or DEFAULT_PORTS.get(u.scheme, 0))


def show_origin(origin: Origin) -> str:
    scheme, host, port = origin
    default = DEFAULT_PORTS.get(scheme) == port
    return f"{scheme}://{host}" + ("" if default else f":{port}")


@dataclass
class Credentials:
    """What may be sent to ``origin`` only, and every secret value to keep out of sight."""

    origin: Origin
    headers: dict[str, str] = field(default_factory=dict)
    auth: Any = None  # an httpx.Auth (basic)
    secrets: list[str] = field(default_factory=list)
    #: other origins that were sent a request without the credentials: origin -> requests
    withheld: dict[str, int] = field(default_factory=dict)

    def holds_any(self) -> bool:
        return bool(self.headers or self.auth or self.secrets)

    def request_for(self, url: httpx.URL) -> tuple[httpx.URL, dict[str, str], Any, bool]:
        """(url, headers, auth, credentials sent) for one request."""
        if origin_of(url) == self.origin:
            return url, self.headers, self.auth, True
        if self.holds_any():
            where = show_origin(origin_of(url))
            self.withheld[where] = self.withheld.get(where, 0) + 1
        return _without_secret_values(url, self.secrets), {}, None, False

    def redact(self, text: str) -> str:
        return redact_text(text, self.secrets)

    def show(self, url: Any) -> str:
        return redact_url(url, self.secrets)


def _without_secret_values(url: httpx.URL, secrets: list[str]) -> httpx.URL:
    """``url`` minus the query parameters whose value holds a secret (a server may echo the
    configured api_key into a redirect to another host)."""
    values = known(secrets)
    if not values or not url.query:
        return url
    kept = [(k, v) for k, v in url.params.multi_items() if not any(s in v for s in values)]
    return url.copy_with(params=kept) if kept else url.copy_with(query=None)


def describe_status(response: httpx.Response, credentials: Credentials | None = None,
                    sent: bool = True) -> str:
    hints = {
        401: "the API refused the credentials; check the token in the environment variable "
             "named under `auth`",
        403: "the credentials are valid but lack permission for this endpoint",
        404: "no such endpoint; check `url`",
        410: "the endpoint is gone; check the API's documentation for its new address",
    }
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    hint = hints.get(response.status_code, "check `url` and the API's status")
    if not sent and credentials is not None and response.status_code in (401, 403):
        hint = (f"tiers sent no credentials there: {show_origin(origin_of(response.url))} is "
                f"not the configured origin {show_origin(credentials.origin)}, and credentials "
                "go only to that one; if the API has really moved, set `url` to its new address")
    shown = credentials.show(response.request.url) if credentials else _public(
        response.request.url)
    return f"{status} from {shown}\n    fix: {hint}"


def _public(url: Any) -> str:
    """The URL without its password and secret query values."""
    return redact_url(url)


def get(client: httpx.Client, url: str, params: dict[str, Any] | None, policy: RetryPolicy,
        limiter: RateLimiter, sleep: Callable[[float], None] = time.sleep,
        credentials: Credentials | None = None) -> httpx.Response:
    """GET ``url``, retrying connection errors, timeouts, 429 and 5xx, and following
    redirects (credentials only within their origin)."""
    import httpx

    creds = credentials or Credentials(origin_of(url))
    target = client.build_request("GET", url, params=params).url
    last = ""
    for attempt in range(policy.retries + 1):
        limiter.wait()
        try:
            response, sent = _follow(client, target, creds)
        except HttpError:
            raise
        except httpx.TimeoutException:
            last = f"no answer from {creds.show(target)} within the timeout"
            retry_after = None
        except httpx.TransportError as exc:
            last = (f"cannot connect to {creds.show(target)} "
                    f"({type(exc).__name__}: {creds.redact(str(exc))})")
            retry_after = None
        else:
            if response.status_code not in RETRY_STATUS:
                if response.is_success:
                    return response
                raise HttpError(describe_status(response, creds, sent))
            last = describe_status(response, creds, sent).split("\n")[0]
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if attempt < policy.retries:
            sleep(policy.delay(attempt, retry_after))
    raise HttpError(f"{last}, after {policy.retries + 1} attempts\n"
                    "    fix: try again later, or raise `timeout` / `retries` if the API is slow")


def _follow(client: httpx.Client, url: httpx.URL, creds: Credentials
            ) -> tuple[httpx.Response, bool]:
    """One GET and its redirects; whether the final request carried the credentials."""
    start = url
    for _ in range(MAX_REDIRECTS + 1):
        target, headers, auth, sent = creds.request_for(url)
        response = client.get(target, headers=headers, auth=auth, follow_redirects=False)
        location = response.headers.get("Location")
        if not (response.is_redirect and location):
            return response, sent
        response.close()
        url = response.url.join(location)
    raise HttpError(f"redirect loop at {creds.show(start)}\n"
                    "    fix: the URL redirects to itself; use the final address")
