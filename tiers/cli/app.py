"""The `tiers` command line: the typer app, its built-in commands, and the commands outside
plugins add. Every command is thin over the job runner and the what-if functions; heavy imports
(ibis, duckdb, pyarrow) happen inside the commands that need them so `tiers --help` stays fast."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from tiers.cli import (
    backtest,
    diff,
    explain,
    export,
    history,
    list_plugins,
    new_plugin,
    report,
    run,
    runs,
    schema,
    serve,
    validate,
)
from tiers.cli.common import STATE, err, plugins, traceback_text
from tiers.core.errors import TiersError
from tiers.core.version import __version__

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

COMMANDS = {
    "run": run.run,
    "validate": validate.validate,
    "explain": explain.explain,
    "diff": diff.diff,
    "backtest": backtest.backtest,
    "report": report.report,
    "export": export.export,
    "runs": runs.runs_command,
    "history": history.history_command,
    "plugins": list_plugins.list_plugins,
    "schema": schema.schema,
    "new-plugin": new_plugin.new_plugin,
    "serve": serve.serve,
}
for _name, _command in COMMANDS.items():
    app.command(name=_name)(_command)


@app.callback(invoke_without_command=True)
def main_options(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    if version:
        typer.echo(f"tiers {__version__}")
        raise typer.Exit()
    STATE["debug"] = debug


def build_app(help_only: bool = False) -> typer.Typer:
    """Let outside plugins add their commands (once per process), then return the app.

    ``help_only``: the process will only print the command list of the built-in commands, so
    no plugin is loaded (loading them is most of start-up)."""
    if not help_only and not STATE.get("commands_added"):
        pm, _ = plugins()
        pm.hook.register_commands(cli=app)
        STATE["commands_added"] = True
    return app


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        build_app(help_only=sys.argv[1:] in ([], ["--help"], ["-h"]))
    except TiersError as exc:
        from tiers.core.redact import redact_text

        err(traceback_text().rstrip() if debug else redact_text(f"error: {exc.render()}"))
        sys.exit(exc.exit_code)
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        app()
    except Exception as exc:
        # an unexpected error: its traceback, redacted, instead of Python's raw one
        err(traceback_text().rstrip())
        sys.exit(exc.exit_code if isinstance(exc, TiersError) else 1)


if __name__ == "__main__":
    main()
