"""A small hand-checkable data set shared by the diff, backtest and report tests.

Rolling 28-day spend, tiers bronze < silver (100) < gold (500):

| customer | orders                                  | 2025-02-01 | 2025-03-01 | 2025-04-01 |
|----------|-----------------------------------------|------------|------------|------------|
| A        | 01-10 600, 02-10 150, 03-10 50          | gold 600   | silver 150 | bronze 50  |
| B        | 01-20 50, 02-15 700, 03-20 700          | bronze 50  | gold 700   | gold 700   |
| C        | 02-20 120                               | -          | silver 120 | bronze 0   |
| D        | 01-05 10                                | bronze 0   | bronze 0   | bronze 0   |
"""

from __future__ import annotations

ORDERS = [
    ["order_id", "customer_id", "order_ts", "amount"],
    ["1", "A", "2025-01-10 10:00:00", "600.00"],
    ["2", "A", "2025-02-10 10:00:00", "150.00"],
    ["3", "A", "2025-03-10 10:00:00", "50.00"],
    ["4", "B", "2025-01-20 10:00:00", "50.00"],
    ["5", "B", "2025-02-15 10:00:00", "700.00"],
    ["6", "B", "2025-03-20 10:00:00", "700.00"],
    ["7", "C", "2025-02-20 10:00:00", "120.00"],
    ["8", "D", "2025-01-05 10:00:00", "10.00"],
]


def ruleset(name: str = "small", silver: float = 100, gold: float = 500, extra: str = "") -> str:
    return f"""\
name: {name}
as_of: 2025-03-01
sources:
  orders: {{type: csv, path: orders.csv}}
window: {{kind: rolling, days: 28}}
tiers:
  - {{id: bronze, name: Bronze}}
  - {{id: silver, name: Silver}}
  - {{id: gold, name: Gold}}
policies:
  - type: spend
    thresholds: {{silver: {silver}, gold: {gold}}}
{extra}"""
