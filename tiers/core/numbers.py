"""Number types for plugin options (policies, actions): finite always (a NaN threshold is
never reached, an infinite one never either), and not negative where a negative value has no
meaning."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
