"""`tiers plugins`: the installed plugins and what they provide."""

from __future__ import annotations

from tiers.cli.common import plugins, reported
from tiers.cli.options import FormatOpt, JsonOpt, output_format


def list_plugins(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """List loaded plugins with their versions and the components they provide."""
    from tiers.cli.render import emit, plugin_rows, plugins_json, print_plugins

    with reported():
        fmt = output_format(fmt, as_json)
        _, registry = plugins()
        emit(fmt, data=plugins_json(registry), rows=plugin_rows(registry),
             table=lambda: print_plugins(registry))
