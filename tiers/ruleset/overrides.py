"""Manual tier locks from a CSV file kept by customer service.

```csv
customer_id,tier,until,reason
C00042,gold,2026-12-31,complaint #1234 goodwill
C00077,normal,,fraud review
```

A pin sets the customer's tier, whatever they earn and whatever retention says, through the
whole ``until`` day (an empty ``until`` pins until the row is removed). The file is read with
the csv module: it is written by people, is small, and every bad row is reported with its line.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tiers.core.errors import Problem, did_you_mean

if TYPE_CHECKING:
    from tiers.core.locations import LineMap
    from tiers.ruleset.models import Ruleset

COLUMNS = ("customer_id", "tier", "until", "reason")


@dataclass(frozen=True)
class Pin:
    customer_id: str
    tier: str
    until: dt.date | None
    reason: str


def overrides_path(model: Ruleset, file: Path, lines: LineMap) -> Path | None:
    """The overrides file, relative to the ruleset file that names it."""
    if not model.overrides:
        return None
    p = Path(model.overrides).expanduser()
    if p.is_absolute():
        return p
    return Path(lines.file(("overrides",), str(file))).parent / p


def read_pins(path: Path, tier_ids: list[str]) -> tuple[list[Pin], list[Problem]]:
    """Every valid pin and a problem per bad row, located by file and line."""

    name = str(path)
    if not path.is_file():
        return [], [Problem(f"overrides file not found: {path}", file=name,
                            hint="fix `overrides:` (relative to the ruleset) or create the file "
                                 "with the header customer_id,tier,until,reason")]
    pins: list[Pin] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in COLUMNS[:2] if c not in header]
            if missing:
                return [], [Problem(
                    f"overrides header lacks {', '.join(missing)}", file=name, line=1,
                    hint="the header must be customer_id,tier,until,reason")]
            col = {c: header.index(c) for c in COLUMNS if c in header}
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue

                def cell(c: str, row: list[str] = row) -> str:
                    i = col.get(c)
                    return row[i].strip() if i is not None and i < len(row) else ""

                cid, tier, until_text = cell("customer_id"), cell("tier"), cell("until")
                if not cid:
                    problems.append(Problem("empty customer_id", file=name, line=line,
                                            hint="give the customer's id or delete the row"))
                    continue
                if tier not in tier_ids:
                    problems.append(Problem(
                        f"unknown tier {tier!r} for customer {cid}", file=name, line=line,
                        hint=f"{did_you_mean(tier, tier_ids)}tiers: {', '.join(tier_ids)}"))
                    continue
                until = None
                if until_text:
                    try:
                        until = dt.date.fromisoformat(until_text)
                    except ValueError:
                        problems.append(Problem(
                            f"until {until_text!r} is not a date", file=name, line=line,
                            hint="write YYYY-MM-DD, or leave it empty to pin indefinitely"))
                        continue
                if cid in seen:
                    problems.append(Problem(
                        f"customer {cid} is pinned twice (also on line {seen[cid]})",
                        file=name, line=line, hint="keep one row per customer"))
                    continue
                seen[cid] = line
                pins.append(Pin(cid, tier, until, cell("reason")))
    except UnicodeDecodeError:
        return [], [Problem("overrides file is not UTF-8 text", file=name,
                            hint="save it as UTF-8")]
    return pins, problems
