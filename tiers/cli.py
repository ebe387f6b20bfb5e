"""The `tiers` command line. Every command is thin over the core; heavy imports (ibis, duckdb,
pyarrow) happen inside the commands that need them so `tiers --help` stays fast."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from tiers import __version__
from tiers.core.errors import TiersError

app = typer.Typer(
    name="tiers",
    help="Customer tiering: compute loyalty tiers and segments from customer and order data, "
         "and act on them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # rich help panels on a terminal; plain help in pipes and scripts, where loading rich's
    # markdown renderer would double the start-up time of `tiers --help`
    rich_markup_mode="rich" if sys.stdout.isatty() else None,
)

_state: dict[str, Any] = {"debug": False, "plugins": None}

RulesetArg = Annotated[Path, typer.Argument(help="Ruleset YAML file.", show_default=False)]


def plugins() -> tuple[Any, Any]:
    """The process-wide plugin manager and registry, loaded once."""
    if _state["plugins"] is None:
        from tiers.core.plugins import get_plugin_manager

        _state["plugins"] = get_plugin_manager()
    return _state["plugins"]


def err(message: str) -> None:
    typer.echo(message, err=True)


@contextmanager
def reported() -> Iterator[None]:
    """Render tiers errors as short messages with their exit code; --debug shows tracebacks."""
    try:
        yield
    except TiersError as exc:
        if _state["debug"]:
            raise
        err(f"error: {exc.render()}")
        raise typer.Exit(exc.exit_code) from None


def load(ruleset: Path) -> Any:
    from tiers.core.loader import load_ruleset

    pm, registry = plugins()
    return load_ruleset(ruleset, registry=registry, pm=pm)


@app.callback(invoke_without_command=True)
def main_options(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    if version:
        typer.echo(f"tiers {__version__}")
        raise typer.Exit()
    _state["debug"] = debug


@app.command()
def run(
    ruleset: RulesetArg,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Evaluate as of this date (YYYY-MM-DD): windows end at its start. "
                        "Default: the ruleset's `as_of`, else today.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write one row per customer (id, tier, metrics) to .csv or .parquet.")
    ] = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="duckdb (default) or pyspark; overrides the ruleset's `engine`.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Compute everything and show the action plan; write nothing.")
    ] = False,
    state: Annotated[str | None, typer.Option(
        "--state", help="State store URL or SQLite file; default: $TIERS_STATE_URL, the "
                        "ruleset's `state:`, else .tiers/state.db next to the ruleset.")
    ] = None,
) -> None:
    """Evaluate a ruleset, show the tier table and what changed, and carry out its actions
    (each exactly once; run again to resume failed ones)."""
    from tiers.core.apply import Progress
    from tiers.core.engine import run as run_ruleset
    from tiers.output import print_run, run_json
    from tiers.output_actions import actions_json, exit_code, print_actions

    with reported():
        if fmt not in ("table", "json"):
            raise TiersError(f"--format {fmt!r}: use table or json")
        loaded = load(ruleset)
        if engine:
            loaded.model.engine = engine
        result = run_ruleset(loaded, as_of=as_of, out=out, state=state or True,
                             dry_run=dry_run, progress=Progress())
        if fmt == "json":
            data = {**run_json(result, out), **actions_json(result)}
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            print_run(result, out)
            print_actions(result, ruleset)
        code = exit_code(result)
        if code:
            raise typer.Exit(code)


@app.command()
def validate(ruleset: RulesetArg) -> None:
    """Check a ruleset and its data files; list every problem with its line and a fix."""
    with reported():
        loaded = load(ruleset)
        typer.echo(f"{ruleset}: OK ({len(loaded.model.tiers)} tiers, "
                   f"{len(loaded.policies)} policies, {len(loaded.sources)} sources, "
                   f"{len(loaded.actions)} actions)")


@app.command(name="plugins")
def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List loaded plugins with their versions and the components they provide."""
    from tiers.output import plugins_json, print_plugins

    with reported():
        _, registry = plugins()
        if as_json:
            typer.echo(json.dumps(plugins_json(registry), indent=2))
        else:
            print_plugins(registry)


def build_app(help_only: bool = False) -> typer.Typer:
    """Let plugins add commands, then return the app.

    ``help_only``: the process will only print the command list, which needs the built-in
    modules that add commands but not the sources, policies and actions (most of start-up)."""
    if help_only:
        from tiers.core.plugins import BUILTIN_PLUGINS, get_plugin_manager

        pm, _ = get_plugin_manager(builtins=[m for m in BUILTIN_PLUGINS
                                             if m.startswith("tiers.commands.")])
    else:
        pm, _ = plugins()
    pm.hook.register_commands(cli=app)
    return app


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        build_app(help_only=sys.argv[1:] in ([], ["--help"], ["-h"]))
    except TiersError as exc:
        if debug:
            raise
        err(f"error: {exc.render()}")
        sys.exit(exc.exit_code)
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


if __name__ == "__main__":
    main()
