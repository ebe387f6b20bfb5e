"""What a broken, clashing or incompatible plugin does at load time, through real entry points.

Each test writes a small distribution (a module plus its ``.dist-info`` with ``entry_points.txt``
and ``METADATA``) into a temporary folder on ``sys.path``: that is exactly what pip leaves
behind, so ``importlib.metadata`` finds and loads it like an installed plugin.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiers import PluginError, __version__
from tiers.core.plugins import get_plugin_manager
from tiers.testing import make_plugin_manager

POLICY = '''
from typing import Any
from tiers import Policy, hookimpl

class {cls}(Policy):
    name = "{type}"

@hookimpl
def register_policies(register: Any) -> None:
    register({cls})
'''


def install(site: Path, dist: str, modules: dict[str, str], version: str = "1.0",
            requires: tuple[str, ...] = ()) -> None:
    """Lay out ``dist`` as pip would: its modules and a dist-info with a `tiers` entry point
    per module."""
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    meta = ["Metadata-Version: 2.1", f"Name: {dist}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n", encoding="utf-8")
    eps = "[tiers]\n" + "".join(f"{m} = {m}\n" for m in modules)
    (info / "entry_points.txt").write_text(eps, encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("TIERS_STRICT_PLUGINS", raising=False)
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:  # the next test's module of that name is another
        del sys.modules[name]


def test_plugin_raising_on_import_is_skipped_with_file_and_line(site, capsys):
    install(site, "acme-broken", {"acme_broken": "import json\nraise RuntimeError('no config')\n"})
    install(site, "acme-good", {"acme_good": POLICY.format(cls="Good", type="good")})
    _, registry = get_plugin_manager()
    err = capsys.readouterr().err
    assert "plugin 'acme_broken' (acme-broken 1.0) failed to import: RuntimeError: no config" in err
    assert f"(at {site / 'acme_broken.py'}:2)" in err
    assert "skipped (set TIERS_STRICT_PLUGINS=1 to make this fatal)" in err
    # the other plugin still loads
    assert registry.get("policy", "good") is not None
    assert len(registry.failures) == 1


def test_plugin_raising_on_import_is_fatal_in_strict_mode(site, monkeypatch):
    install(site, "acme-broken", {"acme_broken": "1 / 0\n"})
    monkeypatch.setenv("TIERS_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"failed to import: ZeroDivisionError: division by zero"):
        get_plugin_manager()


def test_two_distributions_registering_one_name_are_both_named(site, capsys, tmp_path):
    install(site, "acme-loyalty", {"acme_loyalty": POLICY.format(cls="A", type="loyalty")},
            version="2.1")
    install(site, "other-loyalty", {"other_loyalty": POLICY.format(cls="B", type="loyalty")},
            version="0.3")
    _, registry = get_plugin_manager()
    err = capsys.readouterr().err
    expected = ("policy type 'loyalty' is registered by more than one plugin: "
                "plugin 'acme_loyalty' (acme-loyalty 2.1) and "
                "plugin 'other_loyalty' (other-loyalty 0.3)")
    assert expected in err
    assert "rulesets using 'loyalty' fail until one of them is uninstalled" in err
    # neither wins: a ruleset using the name is refused with the same message and its line
    ruleset = tmp_path / "r.yaml"
    ruleset.write_text("name: r\nsources: {orders: {type: csv, path: o.csv}}\n"
                       "tiers: [{id: a}]\npolicies:\n  - type: loyalty\n", encoding="utf-8")
    (tmp_path / "o.csv").write_text("customer_id,order_ts,amount\n", encoding="utf-8")
    from tiers.core.errors import RulesetError
    from tiers.ruleset.loader import load_ruleset

    with pytest.raises(RulesetError) as info:
        load_ruleset(ruleset, registry=registry)
    assert f"{ruleset}:5: policies[0].type: {expected}" in info.value.render()


def test_a_plugin_may_not_take_a_builtin_name(site, capsys):
    install(site, "acme-spend", {"acme_spend": POLICY.format(cls="S", type="spend")})
    get_plugin_manager()
    assert ("policy type 'spend' is registered by more than one plugin: "
            "plugin 'tiers.plugins.policies.spend' (built-in) and "
            "plugin 'acme_spend' (acme-spend 1.0)") in capsys.readouterr().err


def test_duplicate_name_is_fatal_in_strict_mode(site):
    install(site, "a-dist", {"a_mod": POLICY.format(cls="A", type="dup")})
    install(site, "b-dist", {"b_mod": POLICY.format(cls="B", type="dup")})
    with pytest.raises(PluginError, match=r"registered by more than one plugin: "
                                          r".*a-dist 1.0.*b-dist 1.0.*uninstall one of them"):
        get_plugin_manager(strict=True)


def test_hookimpl_argument_not_in_the_spec_names_the_argument(site, capsys):
    install(site, "acme-args", {"acme_args": '''
        from tiers import hookimpl

        @hookimpl
        def register_policies(register, registry):
            pass
    '''})
    _, registry = get_plugin_manager()
    err = capsys.readouterr().err
    assert ("plugin 'acme_args' (acme-args 1.0) could not be loaded: "
            "register_policies(register, registry) asks for 'registry', which the hook does "
            "not pass; register_policies passes: register.") in err
    assert "acme_args" not in registry.plugins


def test_misspelled_hook_suggests_the_right_one(site, capsys):
    install(site, "acme-typo", {"acme_typo": '''
        from tiers import hookimpl

        @hookimpl
        def register_policy(register):
            pass
    '''})
    get_plugin_manager()
    err = capsys.readouterr().err
    assert ("register_policy() is not a tiers hook; did you mean 'register_policies'?") in err


def test_registering_something_that_is_not_a_component(site, capsys):
    install(site, "acme-odd", {"acme_odd": '''
        from tiers import hookimpl

        class NotAPolicy:
            name = "odd"

        @hookimpl
        def register_policies(register):
            register(NotAPolicy)
    '''})
    _, registry = get_plugin_manager()
    err = capsys.readouterr().err
    assert "plugin 'acme_odd' (acme-odd 1.0) failed in register_policies: it registered" in err
    assert "but that is not a subclass of tiers.Policy" in err
    assert registry.get("policy", "odd") is None


def test_incompatible_distribution_requirement_is_reported_before_import(site, capsys):
    # the module would fail to import: the version message must come first and alone
    install(site, "acme-future", {"acme_future": "import tiers.not_there_yet\n"},
            requires=("tiers>=9.0,<10", "pyyaml>=6"))
    _, registry = get_plugin_manager()
    err = capsys.readouterr().err
    assert (f"plugin 'acme_future' (acme-future 1.0) needs tiers <10,>=9.0 but tiers "
            f"{__version__} is installed") in err
    assert "ModuleNotFoundError" not in err
    assert "acme_future" not in registry.plugins


def test_requirement_under_an_extra_is_not_a_range_for_tiers(site):
    install(site, "acme-extra", {"acme_extra": POLICY.format(cls="E", type="extra_ok")},
            requires=('tiers>=9; extra == "future"',))
    _, registry = get_plugin_manager()
    assert registry.get("policy", "extra_ok") is not None


def test_module_attribute_range(site, capsys):
    install(site, "acme-old", {"acme_old": 'tiers_requires = "<0.1"\n'
                               + POLICY.format(cls="O", type="old")})
    install(site, "acme-ok", {"acme_ok": f'tiers_requires = "=={__version__}"\n'
                              + POLICY.format(cls="K", type="ok")})
    _, registry = get_plugin_manager()
    err = capsys.readouterr().err
    assert (f"plugin 'acme_old' (acme-old 1.0) needs tiers <0.1 but tiers {__version__} is "
            "installed; install a release of the plugin that supports this tiers") in err
    assert registry.get("policy", "old") is None
    assert registry.get("policy", "ok") is not None
    assert registry.plugins["acme_ok"].tiers_requires == f"=={__version__}"


def test_malformed_range_is_reported(site):
    install(site, "acme-bad", {"acme_bad": 'tiers_requires = "0.1+"\n'})
    with pytest.raises(PluginError, match=r"declares tiers_requires = '0.1\+', which is not a "
                                          r"version range"):
        get_plugin_manager(strict=True)


def test_entry_points_load_in_name_order_regardless_of_install_order(site):
    install(site, "zeta", {"zeta_mod": POLICY.format(cls="Z", type="zeta")})
    install(site, "alpha", {"alpha_mod": POLICY.format(cls="A", type="alpha")})
    _, registry = get_plugin_manager()
    outside = [p for p in registry.plugins.values() if not p.builtin]
    assert [p.name for p in outside] == ["alpha_mod", "zeta_mod"]


def test_plugins_json_reports_versions_ranges_and_failures(site):
    from typer.testing import CliRunner

    import tiers.cli.app as cli
    from tiers.cli.common import STATE

    install(site, "acme-good", {"acme_good": 'tiers_requires = ">=0.1"\n'
                                + POLICY.format(cls="G", type="good")})
    install(site, "acme-broken", {"acme_broken": "raise ImportError('missing lib')\n"})
    STATE["plugins"] = None
    try:
        result = CliRunner().invoke(cli.app, ["plugins", "--json"])
    finally:
        STATE["plugins"] = None
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    good = next(p for p in data if p.get("name") == "acme_good")
    assert good["distribution"] == "acme-good"
    assert good["version"] == "1.0"
    assert good["policies"] == ["good"]
    assert good["tiers_requires"] == ">=0.1"
    failed = [p["failed"] for p in data if "failed" in p]
    assert failed == ["plugin 'acme_broken' (acme-broken 1.0) failed to import: ImportError: "
                      f"missing lib (at {site / 'acme_broken.py'}:1)"]


def test_fresh_plugin_managers_do_not_see_installed_plugins(site):
    install(site, "acme-good", {"acme_good": POLICY.format(cls="G", type="good")})
    _, registry = make_plugin_manager()
    assert registry.get("policy", "good") is None
    assert registry.get("source", "memtable") is not None
