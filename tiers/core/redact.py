"""Credentials out of everything tiers shows or stores: URLs lose their password and the
values of secret query parameters; known secret values become ``***`` wherever they appear.

Shared by the sources (API, SQL), the actions (webhook URLs in failure messages and the
ledger) and the command line (``--debug`` tracebacks)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry credentials by name (api_key, access_token, X-Amz-Signature,
# client_secret, password...), whatever their value.
SECRET_NAME = re.compile(r"(?i)(key|token|secret|passw|pwd|sig|auth|credential|session)")
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")
_QUERY_VALUE = re.compile(r"(?P<head>[?&;](?P<name>[^=&\s#]+)=)(?P<value>[^&\s#]*)")


def known(secrets: Iterable[str | None]) -> list[str]:
    """Distinct non-empty secrets, longest first (one may contain another)."""
    return sorted({s for s in secrets if s}, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with secret values, URL passwords and secret query values masked."""
    for secret in known(secrets):
        text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: m["head"] + MASK + "@", text)
    return _QUERY_VALUE.sub(
        lambda m: m["head"] + MASK if SECRET_NAME.search(m["name"]) and m["value"] else m[0],
        text)


def redact_url(url: object, secrets: Iterable[str | None] = ()) -> str:
    """The URL as it may be shown: no password, no value of a secret query parameter (by
    name, or because it holds a known secret)."""
    text = str(url)
    values = known(secrets)
    try:
        parts = urlsplit(text)
    except ValueError:
        return redact_text(text, values)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = "&".join(_redact_pair(pair, values) for pair in parts.query.split("&")
                     ) if parts.query else ""
    shown = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    for secret in values:  # e.g. a token in the path
        shown = shown.replace(secret, MASK)
    return shown


def url_secrets(url: str) -> list[str]:
    """The credential values a URL carries: its password and the values of its secret query
    parameters, so they can be masked wherever they turn up (an error quoting the URL in
    another form, a traceback)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if parts.password:
        found += [parts.password, unquote_plus(parts.password)]
    for pair in parts.query.split("&") if parts.query else ():
        name, sep, value = pair.partition("=")
        if sep and value and SECRET_NAME.search(unquote_plus(name)):
            found += [value, unquote_plus(value)]
    return known(found)


def _redact_pair(pair: str, secrets: list[str]) -> str:
    name, sep, value = pair.partition("=")
    plain = unquote_plus(value)
    if sep and value and (SECRET_NAME.search(unquote_plus(name))
                          or any(s in plain for s in secrets)):
        return f"{name}={MASK}"
    return pair
