"""Counted words in messages: "1 policy", "2 policies"."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``word`` for one, else ``many`` (default: ``word`` + "s")."""
    return word if n == 1 else (many or f"{word}s")


def counted(n: int, word: str, many: str | None = None) -> str:
    """``"1 policy"``, ``"2 policies"``, ``"1,234 customers"``."""
    return f"{n:,} {plural(n, word, many)}"
