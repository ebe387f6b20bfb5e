"""`tiers new-plugin`: write a ready-to-install plugin package (component, tests, example)."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from tiers.core.errors import TiersError
from tiers.core.files import publish_dir

TEMPLATES = Path(__file__).parent / "scaffold"
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
KINDS = ("source", "policy", "action")

USAGE = {
    "policy": "policies:\n  - type: {type}\n    metric: avg_order_value\n"
              "    minimums: {{silver: 50, gold: 200}}",
    "source": "sources:\n  orders:\n    type: {type}\n    path: orders.jsonl\n"
              "    columns: {{customer_id: account, order_ts: at}}",
    "action": "actions:\n  - type: {type}\n    tiers: [gold]\n    outbox: outbox.jsonl",
}
SUMMARY = {
    "policy": "Grants a tier when a customer's metric (average order value by default) reaches "
              "the minimum set for that tier.",
    "source": "Reads orders (or any table) from a JSON Lines file, mapping its keys to tiers "
              "fields.",
    "action": "Appends one message per customer in the chosen tiers to an outbox file, once per "
              "customer and tier.",
}
# template -> path in the package; {package} is filled in
FILES = {
    "common/pyproject.toml.tmpl": "pyproject.toml",
    "common/README.md.tmpl": "README.md",
    "common/gitignore.tmpl": ".gitignore",
    "{kind}/plugin.py.tmpl": "{package}/__init__.py",
    "{kind}/test_plugin.py.tmpl": "tests/test_{type}.py",
    "{kind}/ruleset.yaml.tmpl": "example/ruleset.yaml",
}
DATA = {"source": ["source/orders.jsonl"], "policy": ["common/orders.csv"],
        "action": ["common/orders.csv"]}


class ScaffoldError(TiersError):
    """`tiers new-plugin` was given a name or folder it cannot use."""

    exit_code = 2


@dataclass(frozen=True)
class Names:
    """Every spelling of the plugin's name the package needs."""

    dist: str      # tiers-complaint-rate (pip install name)
    package: str   # tiers_complaint_rate (import name)
    type: str      # complaint_rate (the ruleset `type:`)
    cls: str       # ComplaintRate (class name stem)

    @classmethod
    def of(cls, name: str) -> Names:
        bare = name.strip().lower().removeprefix("tiers-").removeprefix("tiers_")
        if not NAME_RE.match(bare):
            raise ScaffoldError(
                f"plugin name {name!r} cannot be used: use lowercase letters, digits and single "
                "hyphens, starting with a letter, e.g. `tiers new-plugin complaint-rate`")
        type_name = bare.replace("-", "_")
        return cls(dist=f"tiers-{bare.replace('_', '-')}", package=f"tiers_{type_name}",
                   type=type_name, cls="".join(p.capitalize() for p in type_name.split("_")))


def supported_range(version: str) -> str:
    """The tiers range a new plugin declares: this minor release up to the next major."""
    from packaging.version import Version

    v = Version(version)
    return f">={v.major}.{v.minor},<{v.major + 1}"


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def scaffold(name: str, kind: str, parent: Path, registry: Any = None) -> Path:
    """Write the package for plugin ``name`` of ``kind`` into ``parent``; returns its folder.

    Everything is written into a temporary folder first and moved into place at the end, so a
    failure leaves nothing half-written. An existing folder is never touched.
    """
    from tiers import __version__

    if kind not in KINDS:
        raise ScaffoldError(f"unknown plugin kind {kind!r}; use one of {', '.join(KINDS)}")
    names = Names.of(name)
    if registry is not None and registry.get(kind, names.type) is not None:
        owner = registry.components[kind][names.type]
        raise ScaffoldError(
            f"a {kind} type {names.type!r} already exists (from {owner.origin or owner.plugin}); "
            "two plugins with one name clash, so choose another name")
    target = parent / names.dist
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or --dir, or "
                            "remove that folder first")
    if not parent.is_dir():
        raise ScaffoldError(f"--dir {parent} is not a folder; create it first")
    values = {"DIST": names.dist, "PACKAGE": names.package, "TYPE": names.type,
              "CLASS": names.cls, "KIND": kind, "TIERS_RANGE": supported_range(__version__),
              "USAGE": USAGE[kind].format(type=names.type), "SUMMARY": SUMMARY[kind]}
    tmp = Path(tempfile.mkdtemp(prefix=f".{names.dist}.", dir=parent))
    try:
        for template, dest in FILES.items():
            source = TEMPLATES / template.format(kind=kind)
            out = tmp / dest.format(package=names.package, type=names.type)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render(source.read_text(encoding="utf-8"), values), encoding="utf-8")
        for data in DATA[kind]:
            shutil.copyfile(TEMPLATES / data, tmp / "example" / Path(data).name)
        publish_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def new_plugin(
    name: Annotated[str, typer.Argument(help="Plugin name, e.g. complaint-rate.",
                                        show_default=False)],
    source: Annotated[bool, typer.Option("--source", help="A data source.")] = False,
    policy: Annotated[bool, typer.Option("--policy", help="A scoring policy (default).")] = False,
    action: Annotated[bool, typer.Option("--action", help="An action.")] = False,
    directory: Annotated[Path, typer.Option(
        "--dir", help="Folder to create the package in.")] = Path("."),
) -> None:
    """Create a plugin package: component, Config, tests, example ruleset and README."""
    from tiers.cli.common import plugins, reported

    with reported():
        chosen = [k for k, on in (("source", source), ("policy", policy), ("action", action))
                  if on]
        if len(chosen) > 1:
            raise ScaffoldError("choose one of --source, --policy or --action (a package can "
                                "register more later: see docs/plugins/first-plugin.md)")
        kind = chosen[0] if chosen else "policy"
        _, registry = plugins()
        target = scaffold(name, kind, directory, registry)
        names = Names.of(name)
        typer.echo(f"created {target}/ with the {kind} `type: {names.type}`\n"
                   f"next:\n  cd {target}\n  pip install -e \".[test]\"\n  pytest\n"
                   f"  tiers run example/ruleset.yaml")
