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


@contextmanager
def reported() -> Iterator[None]:
    """Render tiers errors as short messages with their exit code; --debug shows tracebacks."""
    try:
        yield
    except TiersError as exc:
        if STATE["debug"]:
            raise
        err(f"error: {exc.render()}")
        raise typer.Exit(exc.exit_code) from None


def load(ruleset: Path) -> Any:
    from tiers.ruleset.loader import load_ruleset

    pm, registry = plugins()
    return load_ruleset(ruleset, registry=registry, pm=pm)
