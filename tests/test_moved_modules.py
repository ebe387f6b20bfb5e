"""Module paths of tiers 0.1 keep working, with a DeprecationWarning naming the new place."""

from __future__ import annotations

import importlib

import pytest

import tiers.core.action
import tiers.core.record
import tiers.pipeline
import tiers.ruleset.loader
from tiers.moved import MOVED


@pytest.mark.parametrize(("old", "name", "new"), [
    ("tiers.core.loader", "load_ruleset", tiers.ruleset.loader.load_ruleset),
    ("tiers.core.engine", "run", tiers.pipeline.run),
    ("tiers.core.state", "PREVIOUS_STATE_SCHEMA", tiers.core.record.PREVIOUS_STATE_SCHEMA),
    ("tiers.core.actions", "Intent", tiers.core.action.Intent),
])
def test_old_paths_give_the_new_objects_with_a_warning(old, name, new):
    with pytest.warns(DeprecationWarning, match=f"{name} moved to"):
        module = importlib.import_module(old)
        assert getattr(module, name) is new


def test_tier_action_is_the_action_contract():
    with pytest.warns(DeprecationWarning, match="TierAction is now tiers.Action"):
        from tiers.core.action import TierAction
    assert TierAction is tiers.core.action.Action


def test_every_target_module_exists():
    for targets in MOVED.values():
        for target in targets:
            importlib.import_module(target)


def test_an_unknown_name_on_a_moved_module_is_an_attribute_error():
    with pytest.warns(DeprecationWarning):
        module = importlib.import_module("tiers.core.ruleset")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = module.nope
