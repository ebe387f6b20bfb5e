"""Property: for any ruleset, valid or broken, `tiers validate` accepts it or names where it is
wrong (file and line, or YAML path) with a non-zero exit, never a traceback; and whatever
validate accepts, `tiers run --dry-run` finishes without a crash.

The rulesets are mutations of the bundled ones: deleted keys, wrong types, out-of-range and
non-finite numbers, unknown policies, bad expressions, bad references and duplicate keys."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO

BUNDLED = ["retail", "airline", "education"]
LOCATED = re.compile(r"\.yaml(:\d+)?: |^\s*\S+\.yaml:\d+", re.M)

WRONG_VALUES = [None, "", "text", -1, -1000.5, 0, 10**12, 1.5, True, [], {}, [1, "a"],
                {"x": 1}, "nan", "-inf", "1e999", "../../outside", "spend >= ", "((", "2026-13-45",
                "no_such_tier", "no_such_metric"]


def _paths(data: Any, loc: tuple = ()) -> list[tuple]:
    out = [loc] if loc else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*loc, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*loc, i))
    return out


def _parent(data: Any, loc: tuple) -> Any:
    for part in loc[:-1]:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, str]:
    """(bundled ruleset name, YAML text of a mutation of it, kind of mutation)."""
    name = draw(st.sampled_from(BUNDLED))
    text = (REPO / "rulesets" / f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    kind = draw(st.sampled_from(["delete", "replace", "unknown_policy", "bad_expression",
                                 "bad_reference", "duplicate_key", "none"]))
    if kind == "duplicate_key":
        lines = text.splitlines()
        keyed = [i for i, line in enumerate(lines)
                 if re.match(r"^\s*[A-Za-z_]+:", line) and not line.lstrip().startswith("-")]
        i = draw(st.sampled_from(keyed))
        lines.insert(i + 1, lines[i])  # the same key again, right after itself
        return name, "\n".join(lines) + "\n", kind
    paths = _paths(data)
    if kind == "delete":
        loc = draw(st.sampled_from(paths))
        del _parent(data, loc)[loc[-1]]
    elif kind == "replace":
        loc = draw(st.sampled_from(paths))
        _parent(data, loc)[loc[-1]] = draw(st.sampled_from(WRONG_VALUES))
    elif kind == "unknown_policy":
        data.setdefault("policies", []).append({"type": draw(st.sampled_from(
            ["spnd", "nope", "", "points"])), "id": "extra"})
    elif kind == "bad_expression":
        data["tiers"][-1]["qualify"] = draw(st.sampled_from(
            ["spend >=", "spend >= 'a'", "unknown_metric > 1", "spend >= 1 and", "1 +* 2",
             "spend >= 100 or orders >= 2"]))
    elif kind == "bad_reference":
        policies = [p for p in data.get("policies", []) if "thresholds" in p]
        if policies:
            draw(st.sampled_from(policies))["thresholds"]["platinum_x"] = 10
        else:
            data["tiers"][0]["id"] = "Bad Id"
    return name, yaml.safe_dump(data, allow_unicode=True, sort_keys=False), kind


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("props") / "rulesets"
    shutil.copytree(REPO / "rulesets", root, ignore=shutil.ignore_patterns(".tiers"))
    # the first rows of each data file: the same shapes, a fraction of the run time
    for csv_file in (root / "data").rglob("*.csv"):
        lines = csv_file.read_text(encoding="utf-8").splitlines(keepends=True)
        csv_file.write_text("".join(lines[:300]), encoding="utf-8")
    return root


def _clean(result: Any) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception), result.output)


def _validate(cli: Any, folder: Path, name: str, text: str, kind: str) -> tuple[Path, Any]:
    path = folder / f"mutant-{name}.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("validate", path)
    _clean(result)
    if result.exit_code != 0:
        assert result.exit_code == 2, result.output
        assert LOCATED.search(result.output), result.output
    if kind == "duplicate_key":  # YAML would keep the last one silently
        assert result.exit_code == 2 and "duplicate key" in result.output, result.output
    return path, result


SETTINGS = {"deadline": None, "derandomize": True,
            "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@settings(max_examples=60, **SETTINGS)
@given(case=mutated())
def test_validate_accepts_or_locates_the_problem(cli, folder, case):
    _validate(cli, folder, *case)


@pytest.mark.slow
@settings(max_examples=12, **SETTINGS)
@given(case=mutated())
def test_what_validate_accepts_runs_without_a_crash(cli, folder, monkeypatch, case):
    monkeypatch.setenv("TIERS_STATE_URL", f"sqlite:///{folder / 'props-state.db'}")
    path, result = _validate(cli, folder, *case)
    if result.exit_code != 0:
        return
    ran = cli("run", path, "--dry-run")
    _clean(ran)
    if ran.exit_code != 0:
        assert "error" in ran.output.lower(), ran.output
