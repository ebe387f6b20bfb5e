"""`tiers schema`: the JSON Schema editors use to complete and check rulesets."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ConfigDict
from typer.testing import CliRunner

import tiers.cli.app as cli
from tiers import ComponentConfig, Policy, hookimpl
from tiers.ruleset.schema import ruleset_schema
from tiers.testing import make_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
RULESETS = sorted((ROOT / "rulesets").glob("*.yaml"))


def as_json(path: Path) -> object:
    # YAML dates become ISO strings, as an editor's YAML language server sees them
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


@pytest.fixture(scope="module")
def schema() -> dict:
    _, registry = make_plugin_manager()
    document, problems = ruleset_schema(registry)
    assert problems == []
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def errors(schema: dict, data: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("path", RULESETS, ids=[p.name for p in RULESETS])
def test_bundled_rulesets_validate(schema, path):
    assert errors(schema, as_json(path)) == []


def test_there_are_bundled_rulesets():
    assert any(p.name == "retail.yaml" for p in RULESETS)


def test_component_options_are_checked_per_type(schema):
    data = as_json(ROOT / "rulesets" / "retail.yaml")
    data["policies"][0]["thresold"] = {"vip": 1}           # typo in an option
    data["policies"].append({"type": "frequency"})            # missing required option
    data["sources"]["orders"]["delimiter"] = ";;"             # too long
    found = errors(schema, data)
    last = len(data["policies"]) - 1
    assert any(e.startswith("$.policies[0]") for e in found)
    assert any(e.startswith(f"$.policies[{last}]") for e in found)
    assert any(e.startswith("$.sources.orders") for e in found)
    assert len(found) == 3


def test_rulesets_extending_another_are_checked_loosely(schema):
    child = {"extends": "retail.yaml", "name": "retail-premium",
             "policies": [{"id": "spend", "thresholds": {"vip": 6000}},
                          {"id": "frequency", "remove": True}]}
    assert errors(schema, child) == []
    child["combin"] = "all"
    assert errors(schema, child) == [
        "$: Additional properties are not allowed ('combin' was unexpected)"]
    # without `extends`, the same file is incomplete
    del child["extends"], child["combin"]
    assert any("'sources' is a required property" in e for e in errors(schema, child))


def test_discriminated_on_type(schema):
    items = schema["$defs"]["RulesetFile"]["properties"]["policies"]["items"]
    assert items["discriminator"]["propertyName"] == "type"
    assert set(items["discriminator"]["mapping"]) >= {"spend", "frequency", "threshold"}
    spend = schema["$defs"]["policy_spend"]
    assert spend["properties"]["type"]["const"] == "spend"
    assert spend["additionalProperties"] is False
    assert "thresholds" in spend["required"]


class LoyaltyConfig(ComponentConfig):
    points_per_unit: float = 1.0
    label: str


class LoyaltyPolicy(Policy):
    name = "loyalty_points"
    description = "points earned per unit spent"
    Config = LoyaltyConfig


class LoyaltyPlugin:
    @staticmethod
    @hookimpl
    def register_policies(register):
        register(LoyaltyPolicy)


def test_installed_plugin_configs_are_included():
    _, registry = make_plugin_manager(LoyaltyPlugin)
    schema, _ = ruleset_schema(registry)
    loyalty = schema["$defs"]["policy_loyalty_points"]
    assert loyalty["properties"]["type"]["description"] == "points earned per unit spent"
    assert loyalty["required"] == ["label", "type"]
    data = as_json(ROOT / "rulesets" / "retail.yaml")
    data["policies"].append({"type": "loyalty_points", "label": "x", "points_per_unit": 2})
    assert errors(schema, data) == []
    data["policies"][-1]["points_per_unit"] = "two"
    assert len(errors(schema, data)) == 1


class Opaque:
    """A type pydantic can validate but not describe in JSON Schema."""


class OpaqueConfig(ComponentConfig):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    thing: Opaque | None = None


class OpaquePolicy(Policy):
    name = "opaque"
    Config = OpaqueConfig


class OpaquePlugin:
    @staticmethod
    @hookimpl
    def register_policies(register):
        register(OpaquePolicy)


def test_a_config_without_json_schema_degrades_to_any_options():
    _, registry = make_plugin_manager(OpaquePlugin)
    schema, problems = ruleset_schema(registry)
    assert len(problems) == 1 and problems[0].startswith("policy 'opaque': its Config has no JSON")
    assert schema["$defs"]["policy_opaque"]["additionalProperties"] is True


def test_cli_prints_and_writes_the_schema(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(cli.build_app(), ["schema"])
    assert printed.exit_code == 0, printed.output
    document = json.loads(printed.stdout)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    out = tmp_path / "sub" / "tiers.schema.json"
    written = runner.invoke(cli.build_app(), ["schema", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert json.loads(out.read_text(encoding="utf-8")) == document
    assert f"wrote the ruleset schema to {out}" in written.stderr


def test_cli_reports_an_unwritable_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli.build_app(), ["schema", "--out", str(blocker / "s.json")])
    assert result.exit_code == 1
    assert f"error: --out {blocker / 's.json'}: {blocker} is a file" in result.stderr
    assert blocker.read_text() == "x"
