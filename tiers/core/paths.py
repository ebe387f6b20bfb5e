"""Containment of the files a ruleset derives: every path it writes or reads on its own
account (exports, outbox, rejects, state, templates, pins, rosters) stays in its folder."""

from __future__ import annotations

from pathlib import Path


def is_inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` lies under ``folder`` once both are resolved (symlinks followed, so a
    link inside the folder pointing out of it does not count as inside)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def outside_reason(folder: Path, path: str | Path) -> str | None:
    """Why ``path`` (relative to ``folder``, or absolute) escapes ``folder``; None if it stays."""
    p = Path(path).expanduser()
    target = p if p.is_absolute() else folder / p
    if is_inside(folder, target):
        return None
    return (f"{str(path)!r} resolves to {target.resolve()}, outside the ruleset's folder "
            f"{folder.resolve()}")
