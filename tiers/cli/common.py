"""What every command shares: the plugin manager of the process, loading a ruleset, and
turning tiers errors into short messages with their exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from tiers.core.errors import TiersError

STATE: dict[str, Any] = {"debug": False, "plugins": None}

RulesetArg = Annotated[Path, typer.Argument(help="Ruleset YAML file.", show_default=False)]


def plugins() -> tuple[Any, Any]:
    """The process-wide plugin manager and registry, loaded once."""
    if STATE["plugins"] is None:
        from tiers.core.plugins import get_plugin_manager

        STATE["plugins"] = get_plugin_manager()
    return STATE["plugins"]


def err(message: str) -> None:
    typer.echo(message, err=True)


def traceback_text() -> str:
    """The traceback being handled, with credentials masked (a URL's password or token in an
    exception message)."""
    import traceback

    from tiers.core.redact import redact_text

    return redact_text(traceback.format_exc())


@contextmanager
def reported() -> Iterator[None]:
    """Render tiers errors as short messages with their exit code; --debug shows tracebacks
    (redacted, like every message)."""
    from tiers.core.redact import redact_text

    try:
        yield
    except TiersError as exc:
        if STATE["debug"]:
            err(traceback_text().rstrip())
        else:
            err(redact_text(f"error: {exc.render()}"))
        raise typer.Exit(exc.exit_code) from None


def load(ruleset: Path) -> Any:
    from tiers.ruleset.loader import load_ruleset

    pm, registry = plugins()
    return load_ruleset(ruleset, registry=registry, pm=pm)
