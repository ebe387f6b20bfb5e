"""Templates: a sandboxed Jinja2 environment with strict undefined variables and HTML
autoescape. Errors name the template file and line, and happen before anything is sent."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tiers.core import exits
from tiers.core.errors import Problem, TiersError


class TemplateError(TiersError):
    """A template cannot be parsed or rendered."""

    exit_code = exits.ACTIONS


def environment(folder: Path, pm: Any = None) -> Any:
    """The environment for templates under ``folder``; plugins customise it through the
    ``prepare_jinja_environment`` hook."""
    from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml"),
                                     default_for_string=False),
        keep_trailing_newline=False,
    )
    if pm is not None:
        pm.hook.prepare_jinja_environment(env=env)
    return env


def syntax_problems(env: Any, folder: Path, names: list[str]) -> list[Problem]:
    """Parse each template; a Problem per syntax error, located in the template file."""
    from jinja2 import TemplateSyntaxError

    problems = []
    for name in names:
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:
            problems.append(Problem(f"template syntax error: {exc.message}",
                                    file=str(folder / name), line=exc.lineno,
                                    hint="fix the Jinja2 syntax on this line"))
    return problems


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if filename and frame.filename == filename:
            line = frame.lineno
    return line


def render(env: Any, folder: Path, name: str, context: Mapping[str, Any]) -> str:
    """Render template ``name``; raises :class:`TemplateError` naming the file and line."""
    from jinja2 import TemplateError as JinjaError
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    path = folder / name
    try:
        template = env.get_template(name)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{path}:{exc.lineno}: template syntax error: {exc.message}"
                            ) from None
    try:
        return template.render(context)
    except (UndefinedError, SecurityError) as exc:
        line = _template_line(exc, template.filename)
        where = f"{path}:{line}" if line else str(path)
        if isinstance(exc, SecurityError) or "unsafe" in str(exc):
            hint = "templates may not reach Python internals (names starting with _)"
        else:
            hint = f"available variables: {', '.join(sorted(context))}"
        raise TemplateError(f"{where}: {exc.message or exc}; {hint}. Nothing was sent."
                            ) from None
    except JinjaError as exc:
        line = _template_line(exc, template.filename)
        raise TemplateError(f"{path}:{line or '?'}: {exc}. Nothing was sent.") from None
