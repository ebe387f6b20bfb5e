"""examples/tiers-crm, pip-installed into a throwaway virtualenv and used only through its
entry points: `tiers plugins`, `tiers run` on its example ruleset, and its own test suite.

It is installed per test session rather than into the project's environment so that its
entry points never change what the other tests see (`tiers plugins`, clash checks)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.plugin_venv import PluginVenv
from tests.servers import Receiver, start_http

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tiers-crm"


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> tuple[PluginVenv, Path]:
    root = tmp_path_factory.mktemp("crm")
    # build from a copy: building in place would leave egg-info and build/ in the checkout
    package = root / "tiers-crm"
    shutil.copytree(EXAMPLE, package, ignore=shutil.ignore_patterns(
        "*.egg-info", "build", "__pycache__", ".pytest_cache"))
    env = PluginVenv(root / "venv")
    env.pip_install(package)
    return env, package


def test_components_are_listed_with_their_distribution(crm):
    env, _ = crm
    listed = json.loads(env.tiers("plugins", "--json"))
    ours = {p["name"]: p for p in listed if p.get("distribution") == "tiers-crm-example"}
    assert ours["crm_export"]["sources"] == ["crm_export"]
    assert ours["complaint_rate"]["policies"] == ["complaint_rate"]
    assert ours["webhook_notify"]["actions"] == ["webhook_notify"]
    assert {p["version"] for p in ours.values()} == {"0.1.0"}
    assert not [p for p in listed if "failed" in p or "clash" in p]


def test_example_ruleset_runs_through_the_entry_points(crm, tmp_path):
    env, package = crm
    out = tmp_path / "tiers.csv"
    receiver = Receiver()
    server, base = start_http(receiver)
    try:
        env.tiers("run", "example/ruleset.yaml", "--out", str(out), "--state",
                  str(tmp_path / "state.db"), cwd=package,
                  extra_env={"SLACK_WEBHOOK_URL": f"{base}/hooks/x"})
    finally:
        server.shutdown()
    # the plugin's webhook action acted: one message for the one VIP
    assert [r["json"] for r in receiver.requests] == [
        {"text": "vip customer A-100: please welcome them"}]
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {r["customer_id"]: r for r in csv.DictReader(fh)}
    assert {c: r["tier"] for c, r in rows.items()} == {
        "A-100": "vip",      # spend 5500, 1 complaint / 2 orders = 0.5: within vip's ceiling
        "A-101": "normal",   # spend 6650, but 3 complaints / 2 orders breaks senior's 1.0
        "A-102": "senior",   # spend 1500, 1 / 1 = 1.0: senior's ceiling exactly
        "A-103": "normal",   # spend 1500, 3 / 2
        "A-104": "normal",   # spend 90; its one case is from 2024, outside the window
    }
    assert {c: r["complaints"] for c, r in rows.items()} == {
        "A-100": "1", "A-101": "3", "A-102": "1", "A-103": "3", "A-104": "0"}


def test_schema_includes_the_plugin_options(crm, tmp_path):
    env, package = crm
    schema_path = tmp_path / "tiers.schema.json"
    env.tiers("schema", "--out", str(schema_path))
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    ceilings = schema["$defs"]["policy_complaint_rate"]["properties"]["ceilings"]
    assert ceilings["minProperties"] == 1
    assert "crm_export" in schema["$defs"]["RulesetFile"]["properties"]["sources"][
        "additionalProperties"][
        "discriminator"]["mapping"]
    import jsonschema
    import yaml

    data = json.loads(json.dumps(yaml.safe_load(
        (package / "example" / "ruleset.yaml").read_text(encoding="utf-8")), default=str))
    jsonschema.validate(data, schema)


def test_the_package_passes_its_own_tests(crm):
    env, package = crm
    out = env.run_python("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    assert "17 passed" in out
