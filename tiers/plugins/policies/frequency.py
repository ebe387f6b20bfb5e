"""`frequency`: tiers by the number of orders over a window."""

from __future__ import annotations

from typing import Any

from tiers.core.hookspecs import hookimpl
from tiers.plugins.policies.thresholds import ThresholdPolicy


class FrequencyPolicy(ThresholdPolicy):
    name = "frequency"
    description = "tier by number of orders in the window, e.g. {silver: 10, gold: 20}"
    metric_name = "orders"


@hookimpl
def register_policies(register: Any) -> None:
    register(FrequencyPolicy)
