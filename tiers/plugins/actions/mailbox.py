"""Every recipient is exactly one mailbox.

A customer column or ruleset field that should hold one address can hold several
(``victim@example.com, attacker@evil.example``) or a line break that would start another
header. :func:`mailbox` accepts ``local@domain`` or ``Display Name <local@domain>`` and nothing
else, and says why when it refuses, so the intent fails on its own with that reason.
"""

from __future__ import annotations

import re

# RFC 5322 atext (and non-ASCII letters for internationalised addresses), dot-separated
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
# patterns, not compiled ones: re compiles (and caches) each on first use, so the many runs
# that send no mail do not pay for these wide character classes
_LOCAL = rf"{_ATOM}(?:\.{_ATOM})*"
_LABEL = r"(?!-)[A-Za-z0-9\-\u0080-\U0010ffff]{1,63}(?<!-)"
_NAMED = r'(?P<name>[^<>@,;:"\\]*?|"[^"\\]*")\s*<(?P<addr>[^<>]*)>'
_CONTROL = r"[\x00-\x1f\x7f\u2028\u2029\u0085]"


class BadAddress(ValueError):
    """The value is not exactly one mailbox; the message says why."""


def mailbox(value: object) -> str:
    """``value`` as one mailbox (stripped), or :class:`BadAddress` with the reason."""
    if not isinstance(value, str):
        raise BadAddress(f"{value!r} is not text")
    if not value.strip():
        raise BadAddress("no address")
    if re.search(_CONTROL, value):
        raise BadAddress(f"{shown(value)} contains a line break or control character")
    text = value.strip()
    named = re.fullmatch(_NAMED, text)
    addr = named["addr"].strip() if named else text
    check_addr_spec(addr, text)
    from email.utils import getaddresses

    parsed = getaddresses([text])  # what the mail library will make of the header
    if len(parsed) != 1 or parsed[0][1] != addr:
        raise BadAddress(f"{shown(text)} is not exactly one address")
    return text


def check_addr_spec(addr: str, whole: str) -> None:
    if "," in addr or ";" in addr or any(c.isspace() for c in addr):
        raise BadAddress(f"{shown(whole)} holds more than one address or a space; give "
                         "exactly one")
    if addr.count("@") != 1:
        raise BadAddress(f"{shown(whole)} must have exactly one @")
    local, domain = addr.split("@")
    if len(addr) > 254 or not re.fullmatch(_LOCAL, local) or len(local) > 64:
        raise BadAddress(f"{shown(whole)} has an invalid part before the @")
    labels = domain.split(".")
    if len(labels) < 2 or not all(re.fullmatch(_LABEL, label) for label in labels):
        raise BadAddress(f"{shown(whole)} has an invalid domain")


def shown(value: str) -> str:
    """The value as a message may quote it: escapes visible, long ones cut."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
