"""API keys: from ``TIERS_API_KEYS`` (comma-separated), sent in a header, compared in constant
time. Keys are never accepted in the URL, where access logs and browser histories keep them."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

from tiers.core import exits
from tiers.core.errors import TiersError

ENV_VAR = "TIERS_API_KEYS"
MIN_LENGTH = 16
#: query parameters that look like a credential: refused, with a message saying where keys go
URL_KEY_NAMES = frozenset({"api_key", "apikey", "api-key", "key", "token", "access_token",
                           "auth", "authorization"})


class AuthConfigError(TiersError):
    """No usable API key is configured."""

    exit_code = exits.USAGE


def _digest(value: str) -> bytes:
    # equal-length inputs for compare_digest, so not even a key's length shows in the timing
    return hashlib.sha256(value.encode("utf-8")).digest()


class ApiKeys:
    def __init__(self, keys: list[str]):
        self._digests = [_digest(k) for k in keys]

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"ApiKeys({len(self)} keys)"

    def valid(self, given: str | None) -> bool:
        if not given:
            return False
        candidate = _digest(given)
        ok = False
        for key in self._digests:  # every key, whatever matched first
            ok |= hmac.compare_digest(candidate, key)
        return ok


def keys_from_env(environ: Mapping[str, str] | None = None) -> ApiKeys:
    env = os.environ if environ is None else environ
    raw = env.get(ENV_VAR, "")
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise AuthConfigError(
            f"{ENV_VAR} is not set: the server needs at least one API key. Set it, e.g. "
            f"export {ENV_VAR}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'); "
            "several keys are separated by commas")
    short = sum(1 for k in keys if len(k) < MIN_LENGTH)
    if short:
        raise AuthConfigError(
            f"{ENV_VAR}: {short} of the {len(keys)} key(s) are shorter than {MIN_LENGTH} "
            "characters; use long random keys (secrets.token_urlsafe(32))")
    return ApiKeys(keys)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key else None
