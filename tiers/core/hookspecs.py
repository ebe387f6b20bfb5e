"""Every hook a tiers plugin can implement. Hook arguments are only ever added, never removed."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("tiers")
hookimpl = pluggy.HookimplMarker("tiers")


@hookspec
def register_sources(register: Any) -> None:
    """Register data source classes by calling ``register(SourceClass)``.

    :param register: callback taking a :class:`tiers.Source` subclass.
    """


@hookspec
def register_policies(register: Any) -> None:
    """Register scoring policy classes by calling ``register(PolicyClass)``.

    :param register: callback taking a :class:`tiers.Policy` subclass.
    """


@hookspec
def register_actions(register: Any) -> None:
    """Register action classes by calling ``register(ActionClass)``.

    :param register: callback taking a :class:`tiers.Action` subclass.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``tiers`` command line.

    :param cli: the :class:`typer.Typer` application; decorate functions with ``cli.command()``.
    """


@hookspec
def prepare_jinja_environment(env: Any) -> None:
    """Customise the sandboxed Jinja2 environment used for templates (filters, globals).

    :param env: the :class:`jinja2.sandbox.SandboxedEnvironment` about to render templates.
    """


@hookspec
def run_started(ruleset: Any, as_of: Any) -> None:
    """Called once when a run starts, before any data is loaded.

    :param ruleset: the validated :class:`tiers.ruleset.models.Ruleset`.
    :param as_of: the evaluation instant (:class:`datetime.datetime`, exclusive end of windows).
    """


@hookspec
def run_finished(ruleset: Any, result: Any) -> None:
    """Called once when a run has computed its result.

    :param ruleset: the validated :class:`tiers.ruleset.models.Ruleset`.
    :param result: the :class:`tiers.engine.result.RunResult`.
    """
