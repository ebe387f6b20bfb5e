"""`tiers validate RULESET`: check a ruleset and its data files."""

from __future__ import annotations

import typer

from tiers.cli.common import RulesetArg, load, reported


def validate(ruleset: RulesetArg) -> None:
    """Check a ruleset and its data files; list every problem with its line and a fix."""
    with reported():
        loaded = load(ruleset)
        typer.echo(f"{ruleset}: OK ({len(loaded.model.tiers)} tiers, "
                   f"{len(loaded.policies)} policies, {len(loaded.sources)} sources, "
                   f"{len(loaded.actions)} actions)")
