"""`spend`: tiers by net spend over a window (refunds subtract)."""

from __future__ import annotations

from typing import Any

from tiers.core.hookspecs import hookimpl
from tiers.plugins.policies.thresholds import ThresholdConfig, ThresholdPolicy


class SpendPolicy(ThresholdPolicy):
    name = "spend"
    description = "tier by net spend in the window, e.g. {senior: 1000, vip: 5000}"
    metric_name = "spend"


class ThresholdMetricConfig(ThresholdConfig):
    metric: str


class MetricThresholdPolicy(ThresholdPolicy):
    name = "threshold"
    description = "tier by any metric (built-in or declared under `metrics:`) against minimums"
    Config = ThresholdMetricConfig

    @property
    def measure(self) -> str:
        return self.config.metric


@hookimpl
def register_policies(register: Any) -> None:
    register(SpendPolicy)
    register(MetricThresholdPolicy)
