"""What the three contenders share: the as-of instant, the window and the tier ladder.

The ruleset in ``ruleset.yaml.in`` says the same thing in tiers' own terms; keep them in step.
"""

from __future__ import annotations

import datetime as dt

AS_OF = dt.datetime(2026, 11, 21)
WINDOW_DAYS = 365
WINDOW_START = AS_OF - dt.timedelta(days=WINDOW_DAYS)
TIERS = ["basic", "silver", "gold", "platinum"]
SPEND = {"silver": 500, "gold": 2000, "platinum": 5000}        # 365-day net spend, inclusive
FREQUENCY = {"silver": 10, "gold": 20, "platinum": 50}         # 365-day orders, inclusive
