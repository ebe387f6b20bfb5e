"""Generate the bundled sample data for the rulesets, reproducibly (fixed seed).

    python scripts/generate_samples.py            # writes rulesets/data/retail/*.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import random
from pathlib import Path

END = dt.datetime(2026, 11, 21)  # exclusive: the data covers the two years before this
START = END - dt.timedelta(days=730)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def retail(out: Path, customers: int, seed: int) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    cust_rows, order_rows = [], []
    order_no = 0
    for i in range(1, customers + 1):
        cid = f"C{i:05d}"
        signup = START + dt.timedelta(days=rng.randrange(0, 700))
        birthday = dt.date(rng.randrange(1960, 2005), rng.randrange(1, 13), rng.randrange(1, 29))
        locale = "zh-CN" if rng.random() < 0.7 else "en"
        given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")
        name = rng.choice(SURNAMES) + given
        cust_rows.append([cid, name, f"{cid.lower()}@example.com", birthday.isoformat(),
                          signup.date().isoformat(), locale])
        # skewed activity: most customers order rarely, a few very often
        activity = rng.lognormvariate(1.6, 1.0)
        basket = rng.lognormvariate(math.log(180), 0.7)
        n_orders = min(int(activity), 150)
        span = (END - signup).total_seconds()
        for _ in range(n_orders):
            ts = signup + dt.timedelta(seconds=rng.random() * span)
            amount = round(rng.lognormvariate(math.log(basket), 0.5), 2)
            order_no += 1
            oid = f"O{order_no:07d}"
            order_rows.append([oid, cid, ts.strftime("%Y-%m-%d %H:%M:%S"), f"{amount:.2f}"])
            if rng.random() < 0.03:  # a refund, recorded later as a negative amount
                refund_ts = min(ts + dt.timedelta(days=rng.randrange(1, 30)),
                                END - dt.timedelta(seconds=1))
                order_no += 1
                order_rows.append([f"R{order_no:07d}", cid, refund_ts.strftime("%Y-%m-%d %H:%M:%S"),
                                   f"{-amount:.2f}"])
    order_rows.sort(key=lambda r: r[2])
    with open(out / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "name", "email", "birthday", "signup_date", "locale"])
        w.writerows(cust_rows)
    with open(out / "orders.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "customer_id", "ordered_at", "amount"])
        w.writerows(order_rows)
    print(f"{out}: {len(cust_rows)} customers, {len(order_rows)} orders")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).parent.parent / "rulesets")
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()
    retail(args.root / "data" / "retail", args.customers, args.seed)


if __name__ == "__main__":
    main()
