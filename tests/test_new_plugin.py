"""`tiers new-plugin`: the package it writes installs and passes its own tests unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import venv
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from typer.testing import CliRunner

import tiers.cli.app as cli
from tests.plugin_venv import PluginVenv
from tiers import __version__
from tiers.cli.new_plugin import Names, ScaffoldError, scaffold, supported_range

REPO = Path(__file__).resolve().parent.parent
KINDS = {"policy": "avg-basket", "source": "jsonl-orders", "action": "outbox"}


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> tuple[PluginVenv, Path]:
    """One virtualenv with a scaffolded package of each kind pip-installed into it."""
    root = tmp_path_factory.mktemp("scaffold")
    env = PluginVenv(root / "venv")
    for kind, name in KINDS.items():
        flag = f"--{kind}"
        result = CliRunner().invoke(cli.build_app(), ["new-plugin", name, flag, "--dir", str(root)])
        assert result.exit_code == 0, result.output
        env.pip_install(root / f"tiers-{name}")
    return env, root


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_scaffold_passes_its_own_tests(scaffolded, kind):
    env, root = scaffolded
    out = env.run_python("-m", "pytest", "-q", "-p", "no:cacheprovider",
                         cwd=root / f"tiers-{KINDS[kind]}")
    expected = {"policy": 4, "source": 3, "action": 4}[kind]
    assert f"{expected} passed" in out


@pytest.mark.slow
def test_scaffolded_plugins_load_through_their_entry_points(scaffolded):
    env, _ = scaffolded
    listed = json.loads(env.tiers("plugins", "--json"))
    by_dist = {p["distribution"]: p for p in listed if p.get("distribution")}
    assert by_dist["tiers-avg-basket"]["policies"] == ["avg_basket"]
    assert by_dist["tiers-jsonl-orders"]["sources"] == ["jsonl_orders"]
    assert by_dist["tiers-outbox"]["actions"] == ["outbox"]
    declared = SpecifierSet(by_dist["tiers-outbox"]["tiers_requires"])
    assert declared == SpecifierSet(supported_range(__version__))
    assert not [p for p in listed if "failed" in p or "clash" in p]


def run_example(env: PluginVenv, folder: Path) -> dict[str, str]:
    out = folder / "tiers.csv"
    env.tiers("run", "example/ruleset.yaml", "--out", str(out), cwd=folder)
    lines = out.read_text(encoding="utf-8").splitlines()
    header = lines[0].replace('"', "").split(",")
    rows = [dict(zip(header, line.replace('"', "").split(","), strict=True)) for line in lines[1:]]
    return {r["customer_id"]: r["tier"] for r in rows}


@pytest.mark.slow
def test_policy_example_ruleset_runs(scaffolded):
    env, root = scaffolded
    tiers = run_example(env, root / "tiers-avg-basket")
    # average order value: alice 141.83, bob 37.50, carol 550 (a refund is not an order)
    assert tiers == {"alice": "silver", "bob": "basic", "carol": "gold"}


@pytest.mark.slow
def test_source_example_ruleset_runs(scaffolded):
    env, root = scaffolded
    tiers = run_example(env, root / "tiers-jsonl-orders")
    assert tiers == {"alice": "silver", "bob": "basic", "carol": "gold"}


@pytest.mark.slow
def test_action_example_ruleset_validates(scaffolded):
    env, root = scaffolded
    out = env.tiers("validate", "example/ruleset.yaml", cwd=root / "tiers-outbox")
    assert "OK (2 tiers, 1 policy, 1 source, 1 action)" in out


def install_block(readme: Path) -> str:
    """The first ```bash block under the README's `## Install`."""
    section = readme.read_text(encoding="utf-8").split("\n## Install\n", 1)[1]
    m = re.search(r"```bash\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    assert m, f"no ```bash block under ## Install in {readme}"
    return m.group(1)


@pytest.mark.slow
def test_readme_install_works_in_a_fresh_virtualenv(tmp_path):
    """tiers is not on the package index: the scaffold's README installs it from a checkout
    next to the package first. Followed as written in a virtualenv that sees nothing of this
    one, the package installs, loads and passes its tests."""
    result = CliRunner().invoke(cli.build_app(), ["new-plugin", "avg-basket", "--dir",
                                                  str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / "tiers-avg-basket"
    (tmp_path / "tiers").symlink_to(REPO)  # the checkout the README's `../tiers` names
    commands = install_block(package / "README.md")
    assert "pip install -e ../tiers" in commands
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bindir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "TIERS_STRICT_PLUGINS")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(env_dir),
               PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")

    def sh(script: str) -> str:
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=package, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{script}\nexited {proc.returncode}:\n" \
                                     f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        return proc.stdout

    sh(commands)
    listed = {p.get("distribution"): p for p in json.loads(sh("tiers plugins --json"))}
    assert listed["tiers-avg-basket"]["policies"] == ["avg_basket"]
    where = sh("python -c 'import sys, tiers; print(tiers.__file__); print(sys.prefix)'")
    tiers_file, prefix = where.split()
    assert Path(tiers_file).resolve().is_relative_to(REPO)
    assert Path(prefix) == env_dir
    assert "4 passed" in sh("python -m pytest -q -p no:cacheprovider")


def test_names():
    names = Names.of("Complaint-Rate")
    assert names == Names("tiers-complaint-rate", "tiers_complaint_rate", "complaint_rate",
                          "ComplaintRate")
    assert Names.of("tiers-vip_perks").type == "vip_perks"
    assert supported_range("0.1.0") == ">=0.1,<1"
    assert supported_range("2.3.1") == ">=2.3,<3"


@pytest.mark.parametrize("bad", ["9lives", "has space", "trailing-", "dots.in.name", ""])
def test_bad_names_are_refused_with_an_example(tmp_path, bad):
    result = CliRunner().invoke(cli.build_app(), ["new-plugin", bad, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert f"error: plugin name {bad!r} cannot be used" in result.stderr
    assert "e.g. `tiers new-plugin complaint-rate`" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_never_touched(tmp_path):
    existing = tmp_path / "tiers-perks"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep")
    result = CliRunner().invoke(cli.build_app(), ["new-plugin", "perks", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{existing} already exists" in result.stderr
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiers-perks"]


def test_one_kind_at_a_time(tmp_path):
    result = CliRunner().invoke(cli.build_app(),
                                ["new-plugin", "x", "--source", "--action", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "choose one of --source, --policy or --action" in result.stderr


def test_a_taken_type_name_is_refused(tmp_path):
    from tiers.testing import make_plugin_manager

    _, registry = make_plugin_manager()
    with pytest.raises(ScaffoldError, match=r"a policy type 'spend' already exists .*built-in"):
        scaffold("spend", "policy", tmp_path, registry)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    import tiers.cli.new_plugin as mod

    monkeypatch.setitem(mod.FILES, "common/missing.tmpl", "x.txt")
    with pytest.raises(FileNotFoundError):
        scaffold("half", "policy", tmp_path)
    assert list(tmp_path.iterdir()) == []
