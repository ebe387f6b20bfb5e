"""Credentials out of everything a source shows or writes; the rules live in
:mod:`tiers.core.redact`, shared with the actions and the command line."""

from tiers.core.redact import MASK, SECRET_NAME, known, redact_text, redact_url, url_secrets

__all__ = ["MASK", "SECRET_NAME", "known", "redact_text", "redact_url", "url_secrets"]
