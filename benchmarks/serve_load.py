"""Load on `tiers serve`: customer lookups and simulated orders over HTTP on 127.0.0.1.

    python benchmarks/serve_load.py                        # 1M customers (10M orders)
    python benchmarks/serve_load.py --customers 20000      # a quick check

Generates the orders with benchmarks/generate.py's generator (about ten per customer), records
one `tiers run` in a SQLite state store, starts `tiers serve` as its own process, then sends a
fixed number of requests from a few concurrent clients (keep-alive connections, one thread
each) and stops by itself. Reports lookup p50/p99 and requests/s, simulation p50/p99, the
server's resident memory at rest and its peak under load, and writes them to
docs/performance.md between the ``bench:serve`` markers.

The clients run on the same machine as the server and take CPU from it: the figures are for
both on one box, a lower bound of what the server does alone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "performance.md"
BIN = Path(sys.executable).parent
KEY = "bench-serve-key-" + "0" * 24
RULESET = """\
# benchmarks/serve_load.py: spend + frequency thresholds over 365 days (as ruleset.yaml.in)
name: bench_serve
as_of: 2026-11-21
sources:
  orders:
    type: parquet
    path: {orders}
window: {{kind: rolling, days: 365}}
tiers: [{{id: basic}}, {{id: silver}}, {{id: gold}}, {{id: platinum}}]
policies:
  - type: spend
    thresholds: {{silver: 500, gold: 2000, platinum: 5000}}
  - type: frequency
    thresholds: {{silver: 10, gold: 20, platinum: 50}}
combine: highest
"""


def generate(folder: Path, customers: int, seed: int) -> Path:
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from generate import SCHEMA, order_chunks

    path = folder / "orders.parquet"
    with pq.ParquetWriter(path, SCHEMA) as writer:
        for batch in order_chunks(customers * 10, seed):
            writer.write_batch(batch, row_group_size=1_000_000)
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used: per-request cost whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    """The server's peak resident memory while the load runs."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self.done.wait(0.1)


def load(port: int, requests: list[tuple[str, str, bytes | None]], clients: int,
         deadline: float) -> tuple[list[float], dict[int, int], float]:
    """Send ``requests`` spread over ``clients`` keep-alive connections; latencies in ms."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    chunks = [requests[i::clients] for i in range(clients)]

    def client(chunk: list[tuple[str, str, bytes | None]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[float] = []
        seen: dict[int, int] = {}
        headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
        for method, path, body in chunk:
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            res.read()
            mine.append((time.perf_counter() - t0) * 1000)
            seen[res.status] = seen.get(res.status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in seen.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(
        values) > 1 else (values[0] if values else float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lookups", type=int, default=20_000, help="lookup requests")
    ap.add_argument("--simulations", type=int, default=500, help="simulate requests")
    ap.add_argument("--clients", type=int, default=4, help="concurrent connections")
    ap.add_argument("--max-seconds", type=float, default=600,
                    help="stop each load phase after this long, whatever is left")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--no-doc", action="store_true", help="print only; leave the docs alone")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="tiers-serve-bench-"))
    env = {**os.environ, "TIERS_API_KEYS": KEY}
    print(f"data in {folder}", file=sys.stderr)

    t0 = time.perf_counter()
    orders = generate(folder, args.customers, args.seed)
    ruleset = folder / "bench_serve.yaml"
    ruleset.write_text(RULESET.format(orders=orders), encoding="utf-8")
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = subprocess.run([str(BIN / "tiers"), "run", str(ruleset), "--format", "json"],
                         capture_output=True, text=True, env=env, cwd=folder)
    if run.returncode != 0:
        raise SystemExit(f"tiers run failed:\n{run.stderr[-3000:]}")
    run_s = time.perf_counter() - t0
    with sqlite3.connect(folder / ".tiers" / "state.db") as db:
        recorded = db.execute("SELECT count(*) FROM current_tiers").fetchone()[0]
        ids = [r[0] for r in db.execute(
            "SELECT customer_id FROM current_tiers ORDER BY random() LIMIT 20000")]
    print(f"generated in {gen_s:.1f} s; tiers run recorded {recorded:,} customers in "
          f"{run_s:.1f} s", file=sys.stderr)

    t0 = time.perf_counter()
    server = subprocess.Popen([str(BIN / "tiers"), "serve", str(ruleset), "--port", "0",
                               "--no-access-log"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=env, cwd=folder)
    port = 0
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("listening on "):
            port = int(line.split()[2].rsplit(":", 1)[1])
            break
    if not port:
        server.kill()
        raise SystemExit("tiers serve did not start")
    start_s = time.perf_counter() - t0
    try:
        time.sleep(1)
        rest_mb = rss_mb(server.pid)
        lookups = [("GET", f"/v1/customers/{rng.choice(ids)}", None)
                   for _ in range(args.lookups)]
        # warm-up: connections, the first request of each path
        load(port, lookups[:200], args.clients, time.monotonic() + 60)
        sampler = Sampler(server.pid)
        sampler.start()
        cpu0 = cpu_seconds(server.pid)
        lat, statuses, wall = load(port, lookups, args.clients,
                                   time.monotonic() + args.max_seconds)
        lookup_cpu = (cpu_seconds(server.pid) - cpu0) / max(len(lat), 1) * 1000
        sims = []
        for i in range(args.simulations):
            cid = rng.choice(ids) if i % 10 else f"NEW{i:07d}"  # one in ten a new member
            body = {"orders": [{"amount": round(rng.uniform(5, 800), 2)}
                               for _ in range(rng.randint(1, 3))]}
            sims.append(("POST", f"/v1/customers/{cid}/simulate", json.dumps(body).encode()))
        load(port, sims[:5], 1, time.monotonic() + 120)
        cpu0 = cpu_seconds(server.pid)
        slat, sstatuses, swall = load(port, sims, args.clients,
                                      time.monotonic() + args.max_seconds)
        sim_cpu = (cpu_seconds(server.pid) - cpu0) / max(len(slat), 1) * 1000
        sampler.done.set()
        sampler.join()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    bad = {k: v for k, v in {**statuses, **sstatuses}.items() if k != 200}
    if bad:
        raise SystemExit(f"unexpected answers: {bad}")

    figures = {
        "lookup p50 (ms)": pct(lat, 50), "lookup p99 (ms)": pct(lat, 99),
        "lookups per second": len(lat) / wall,
        "server CPU per lookup (ms)": lookup_cpu,
        "simulate p50 (ms)": pct(slat, 50), "simulate p99 (ms)": pct(slat, 99),
        "simulations per second": len(slat) / swall,
        "server CPU per simulation (ms)": sim_cpu,
        "memory at rest (MB)": rest_mb, "memory peak under load (MB)": sampler.peak,
        "start-up to listening (s)": start_s,
    }
    for name, value in figures.items():
        print(f"{name:32} {value:10.2f}")
    if args.no_doc:
        return
    load_avg = os.getloadavg()[0]
    lines = [
        "## Serve: lookups and simulations over HTTP",
        "",
        f"`python benchmarks/serve_load.py --customers {args.customers}` "
        f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, load average {load_avg:.1f} at the end): "
        f"{recorded:,} customers recorded by `tiers run` (spend + frequency over "
        f"{args.customers * 10:,} generated orders, Parquet, SQLite state store); "
        f"`tiers serve` in its own process, {args.clients} keep-alive clients on the same "
        f"machine; {len(lat):,} lookups of random recorded customers, then {len(slat):,} "
        "simulations of 1-3 orders placed now (one in ten for a customer not in the data).",
        "",
        "| figure | value | target |",
        "|---|---:|---:|",
        f"| lookup p50 | {figures['lookup p50 (ms)']:.1f} ms | |",
        f"| lookup p99 | **{figures['lookup p99 (ms)']:.1f} ms** | <= 20 ms |",
        f"| lookups per second | **{figures['lookups per second']:,.0f}** | >= 1,000 |",
        f"| server CPU per lookup | {lookup_cpu:.2f} ms | |",
        f"| simulate p50 | {figures['simulate p50 (ms)']:.1f} ms | |",
        f"| simulate p99 | **{figures['simulate p99 (ms)']:.1f} ms** | <= 100 ms |",
        f"| simulations per second | {figures['simulations per second']:,.1f} | |",
        f"| server CPU per simulation | {sim_cpu:.1f} ms | |",
        f"| server memory at rest | {rest_mb:,.0f} MB | |",
        f"| server memory, peak under load | {sampler.peak:,.0f} MB | |",
        f"| start-up to listening (load, evaluate, prepare) | {start_s:.1f} s | |",
        "",
        "The clients share the two cores with the server, so these are figures for both on "
        "one machine. A load average above the core count means other work shared it too.",
    ]
    section = "\n".join(lines)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    block = f"<!-- bench:serve -->\n{section}\n<!-- /bench:serve -->"
    pattern = re.compile(r"<!-- bench:serve -->.*?<!-- /bench:serve -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block + "\n")
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
