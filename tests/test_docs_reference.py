"""docs/plugins/reference.md documents every hook and every base-class member, with its
arguments: adding a hook, a hook argument or an interface method without documenting it fails."""

from __future__ import annotations

import inspect
import re
from dataclasses import is_dataclass
from pathlib import Path

import pytest

from tiers.core import action, hookspecs, interfaces

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "plugins" / "reference.md"
HEADINGS = re.findall(r"^#{2,3} `([^`]+)`", REFERENCE.read_text(encoding="utf-8"), re.M)
CLASSES = (interfaces.Context, interfaces.Component, interfaces.Source, interfaces.Policy,
           action.Action, action.PlanInput, action.ApplyContext, action.Intent, action.Outcome)


def hooks() -> list[str]:
    specs = [f for _, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(f, "tiers_spec")]
    return [f"{f.__name__}({', '.join(inspect.signature(f).parameters)})" for f in specs]


def signature(name: str, member: object) -> str:
    params = []
    for p in list(inspect.signature(member).parameters.values())[1:]:  # self
        params.append(f"*{p.name}" if p.kind is p.VAR_POSITIONAL else p.name)
    return f"{name}({', '.join(params)})"


def members() -> list[str]:
    out = []
    for cls in CLASSES:
        names = list(inspect.get_annotations(cls))
        names += [n for n, v in cls.__dict__.items()
                  if (not n.startswith("_") or (n == "__init__" and not is_dataclass(cls)))
                  and (inspect.isfunction(v) or isinstance(v, property))]
        for name in dict.fromkeys(names):
            value = cls.__dict__.get(name)
            if inspect.isfunction(value):
                out.append(f"{cls.__name__}.{signature(name, value)}")
            else:
                out.append(f"{cls.__name__}.{name}")
    return out


def test_there_is_something_to_check():
    assert len(hooks()) >= 7
    assert "Policy.rank(table)" in members()
    assert "Context.problem(message, *sub, hint)" in members()


@pytest.mark.parametrize("hook", hooks())
def test_every_hook_is_documented_with_its_arguments(hook):
    assert hook in HEADINGS, (
        f"hook {hook} is not documented in {REFERENCE}: add a section headed "
        f"### `{hook}` describing each argument")


@pytest.mark.parametrize("member", members())
def test_every_interface_member_is_documented(member):
    assert member in HEADINGS, (
        f"{member} is not documented in {REFERENCE}: add a section headed ### `{member}` "
        "under its class")


def test_component_config_is_documented():
    assert "ComponentConfig" in HEADINGS
