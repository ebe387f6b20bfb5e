"""`tiers plugins`: the installed plugins and what they provide."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tiers.cli.common import plugins, reported


def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List loaded plugins with their versions and the components they provide."""
    from tiers.cli.render import plugins_json, print_plugins

    with reported():
        _, registry = plugins()
        if as_json:
            typer.echo(json.dumps(plugins_json(registry), indent=2))
        else:
            print_plugins(registry)
