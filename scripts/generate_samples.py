"""Generate the bundled sample data for the rulesets, reproducibly (fixed seed).

    python scripts/generate_samples.py            # writes rulesets/data/{retail,airline,education}
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
        surname = rng.choice(SURNAMES)  # draw order matters: it pins the bundled files
        name = surname + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")
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


def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def retail_extras(out: Path, seed: int) -> None:
    """Satisfaction surveys and the tier history points multipliers read, for the customers in
    customers.csv (own RNG, so the orders stay as they are)."""
    rng = random.Random(seed)
    with open(out / "customers.csv", newline="", encoding="utf-8") as fh:
        cust_rows = list(csv.reader(fh))[1:]
    surveys, history = [], []
    for cid, *_rest in cust_rows:
        signup = dt.datetime.fromisoformat(_rest[3])
        if rng.random() < 0.35:
            mood = rng.choice([70, 82, 88, 92, 97])
            for _ in range(rng.randrange(1, 3)):
                ts = signup + dt.timedelta(seconds=rng.random() * (END - signup).total_seconds())
                score = max(0, min(100, mood + rng.randrange(-4, 5)))
                surveys.append([cid, ts.strftime("%Y-%m-%d %H:%M:%S"), score])
        # an earlier tier history: some members were senior, a few then vip
        if rng.random() < 0.3:
            start = signup + dt.timedelta(days=rng.randrange(0, 200))
            if start >= END:
                continue
            if rng.random() < 0.25:
                up = start + dt.timedelta(days=rng.randrange(30, 300))
                if up < END:
                    history.append([cid, "senior", f"{start:%Y-%m-%d %H:%M:%S}",
                                    f"{up:%Y-%m-%d %H:%M:%S}"])
                    history.append([cid, "vip", f"{up:%Y-%m-%d %H:%M:%S}", ""])
                    continue
            history.append([cid, "senior", f"{start:%Y-%m-%d %H:%M:%S}", ""])
    write(out / "surveys.csv", ["customer_id", "ts", "score"], surveys)
    write(out / "tier_history.csv", ["customer_id", "tier", "valid_from", "valid_to"], history)
    print(f"{out}: {len(surveys)} survey answers, {len(history)} tier history rows")


def airline(out: Path, members: int, seed: int) -> None:
    """Members, ticket purchases (qualifying spend) and trips with the segments flown."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    start, end = dt.datetime(2025, 1, 1), dt.datetime(2027, 1, 1)
    span = (end - start).total_seconds()
    cust, orders, trips = [], [], []
    for i in range(1, members + 1):
        cid = f"M{i:05d}"
        joined = start + dt.timedelta(days=rng.randrange(0, 600))
        cust.append([cid, f"member{i}@example.com", f"{joined:%Y-%m-%d}"])
        yearly = rng.lognormvariate(1.6, 0.9)  # trips a year: most fly rarely
        n = min(int(yearly * 2), 120)
        for k in range(n):
            ts = start + dt.timedelta(seconds=rng.random() * span)
            if ts < joined:
                continue
            segs = rng.choice([1, 1, 2, 2, 2, 3, 4])
            fare = round(segs * rng.lognormvariate(math.log(180), 0.5), 2)
            ref = f"T{i:05d}{k:03d}"
            orders.append([ref, cid, f"{ts:%Y-%m-%d %H:%M:%S}", f"{fare:.2f}"])
            trips.append([ref, cid, f"{ts:%Y-%m-%d %H:%M:%S}", segs])
    orders.sort(key=lambda r: r[2])
    trips.sort(key=lambda r: r[2])
    write(out / "members.csv", ["customer_id", "email", "signup_date"], cust)
    write(out / "tickets.csv", ["ticket_id", "customer_id", "order_ts", "amount"], orders)
    write(out / "trips.csv", ["ticket_id", "customer_id", "ts", "segments"], trips)
    print(f"{out}: {len(cust)} members, {len(orders)} tickets")


def education(out: Path, learners: int, seed: int) -> None:
    """Learners, course purchases, study sessions and referrals of new learners."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    start, end = dt.datetime(2025, 6, 1), dt.datetime(2026, 9, 1)
    cust, orders, sessions, referrals = [], [], [], []
    for i in range(1, learners + 1):
        cid = f"L{i:05d}"
        joined = start + dt.timedelta(days=rng.randrange(0, 420))
        cust.append([cid, f"learner{i}@example.com", f"{joined:%Y-%m-%d}"])
        span = (end - joined).total_seconds()
        zeal = rng.lognormvariate(2.0, 1.0)
        for k in range(min(int(zeal / 4), 12)):
            ts = joined + dt.timedelta(seconds=rng.random() * span)
            price = rng.choice([99, 199, 299, 499, 899])
            orders.append([f"E{i:05d}{k:02d}", cid, f"{ts:%Y-%m-%d %H:%M:%S}", f"{price:.2f}"])
        for _ in range(min(int(zeal * 1.5), 150)):
            ts = joined + dt.timedelta(seconds=rng.random() * span)
            sessions.append([cid, f"{ts:%Y-%m-%d %H:%M:%S}", rng.randrange(10, 90)])
        if zeal > 10:
            for _ in range(rng.randrange(0, 6)):
                ts = joined + dt.timedelta(seconds=rng.random() * span)
                referrals.append([cid, f"{ts:%Y-%m-%d %H:%M:%S}",
                                  f"N{rng.randrange(10**6):06d}"])
    orders.sort(key=lambda r: r[2])
    sessions.sort(key=lambda r: r[1])
    write(out / "learners.csv", ["customer_id", "email", "signup_date"], cust)
    write(out / "purchases.csv", ["purchase_id", "customer_id", "order_ts", "amount"], orders)
    write(out / "sessions.csv", ["customer_id", "ts", "minutes"], sessions)
    write(out / "referrals.csv", ["customer_id", "ts", "referred_id"], referrals)
    print(f"{out}: {len(cust)} learners, {len(orders)} purchases, {len(sessions)} sessions, "
          f"{len(referrals)} referrals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).parent.parent / "rulesets")
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()
    retail(args.root / "data" / "retail", args.customers, args.seed)
    retail_extras(args.root / "data" / "retail", args.seed + 1)
    airline(args.root / "data" / "airline", args.customers // 2, args.seed + 10)
    education(args.root / "data" / "education", args.customers // 2, args.seed + 20)


if __name__ == "__main__":
    main()
