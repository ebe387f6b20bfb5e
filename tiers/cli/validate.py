"""`tiers validate RULESET`: check a ruleset and its data files."""

from __future__ import annotations

from typing import Any

import typer

from tiers.cli.common import RulesetArg, load, reported
from tiers.cli.options import FormatOpt, output_format
from tiers.core.words import counted


def validate(ruleset: RulesetArg, fmt: FormatOpt = "table") -> None:
    """Check a ruleset and its data files; list every problem with its line and a fix."""
    from tiers.cli.render import emit

    with reported():
        fmt = output_format(fmt)
        loaded = load(ruleset)
        summary: dict[str, Any] = {
            "file": str(ruleset), "ruleset": loaded.name, "ok": True,
            "tiers": len(loaded.model.tiers), "policies": len(loaded.policies),
            "sources": len(loaded.sources), "actions": len(loaded.actions)}
        emit(fmt, data=summary, rows=[summary], table=lambda: typer.echo(
            f"{ruleset}: OK ({counted(summary['tiers'], 'tier')}, "
            f"{counted(summary['policies'], 'policy', 'policies')}, "
            f"{counted(summary['sources'], 'source')}, "
            f"{counted(summary['actions'], 'action')})"))
