"""`tiers schema`: the JSON Schema of a ruleset, for editors and CI checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def schema(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the schema to this file instead of printing it.")] = None,
) -> None:
    """Print the JSON Schema of a ruleset, including every installed plugin's options.

    Save it and point your editor at it with a first line in the ruleset:
    `# yaml-language-server: $schema=./tiers.schema.json`
    """
    from tiers.cli.common import err, plugins, reported
    from tiers.core.outputs import check_output
    from tiers.ruleset.schema import ruleset_schema

    with reported():
        if out is not None:
            check_output(out, suffixes=(".json",), option="--out")
        _, registry = plugins()
        document, problems = ruleset_schema(registry)
        for problem in problems:
            err(f"warning: {problem}")
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_schema(out, text)
            err(f"wrote the ruleset schema to {out}")


def write_schema(path: Path, text: str) -> None:
    """Write atomically, so a failed write never leaves half a schema."""
    from tiers.core.errors import TiersError
    from tiers.core.files import write_text

    try:
        write_text(path, text)
    except OSError as exc:
        raise TiersError(f"--out {path}: cannot write the schema ({exc.strerror}); "
                         "choose a writable path") from None
