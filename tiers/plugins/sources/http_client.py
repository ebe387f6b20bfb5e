"""GET with the manners a shared API expects: retries with backoff and jitter, Retry-After,
an optional rate limit, a timeout; and errors that say what to do."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


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


def describe_status(response: httpx.Response) -> str:
    hints = {
        401: "the API refused the credentials; check the token in the environment variable "
             "named under `auth`",
        403: "the credentials are valid but lack permission for this endpoint",
        404: "no such endpoint; check `url`",
        410: "the endpoint is gone; check the API's documentation for its new address",
    }
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    hint = hints.get(response.status_code, "check `url` and the API's status")
    return f"{status} from {_public(response.request.url)}\n    fix: {hint}"


def _public(url: Any) -> str:
    """The URL without query values (they may carry tokens)."""
    text = str(url)
    return text.split("?", 1)[0]


def get(client: httpx.Client, url: str, params: dict[str, Any] | None, policy: RetryPolicy,
        limiter: RateLimiter, sleep: Callable[[float], None] = time.sleep) -> httpx.Response:
    """GET ``url``, retrying connection errors, timeouts, 429 and 5xx."""
    import httpx

    last = ""
    for attempt in range(policy.retries + 1):
        limiter.wait()
        try:
            response = client.get(url, params=params)
        except httpx.TooManyRedirects:
            raise HttpError(f"redirect loop at {_public(url)}\n"
                            "    fix: the URL redirects to itself; use the final address"
                            ) from None
        except httpx.TimeoutException:
            last = f"no answer from {_public(url)} within the timeout"
            retry_after = None
        except httpx.TransportError as exc:
            last = f"cannot connect to {_public(url)} ({type(exc).__name__}: {exc})"
            retry_after = None
        else:
            if response.status_code not in RETRY_STATUS:
                if response.is_success:
                    return response
                raise HttpError(describe_status(response))
            last = describe_status(response).split("\n")[0]
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if attempt < policy.retries:
            sleep(policy.delay(attempt, retry_after))
    raise HttpError(f"{last}, after {policy.retries + 1} attempts\n"
                    "    fix: try again later, or raise `timeout` / `retries` if the API is slow")
