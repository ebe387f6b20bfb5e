"""What every benchmark script shares: where data and figures live, how a contender is timed,
what the machine was doing, and how a script replaces its own section of docs/performance.md.

The scripts call tiers the way users do: the `tiers` command as a process (:func:`tiers_cmd`),
so they keep working whatever the package layout underneath.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "performance.md"


def data_dir() -> Path:
    """``bench-data/`` at the top of the checkout (git-ignored), created on first use.

    A dangling symlink left there by an older checkout is replaced by a real folder: data
    generated into a path that exists nowhere would be lost."""
    path = ROOT / "bench-data"
    if path.is_symlink() and not path.exists():
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def tiers_cmd(*args: str) -> list[str]:
    """The `tiers` command of this interpreter's environment, with ``args``."""
    _bytecode()
    exe = Path(sys.executable).parent / "tiers"
    return [str(exe) if exe.exists() else (shutil.which("tiers") or "tiers"), *args]


@cache
def _bytecode() -> None:
    """Compile the checkout's modules, as installing tiers does (pip writes their bytecode):
    under PYTHONDONTWRITEBYTECODE, each timed run would otherwise compile every module changed
    since the last cache again (50-100 ms of a run, which users never pay)."""
    import compileall

    compileall.compile_dir(ROOT / "tiers", quiet=1)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a contender: ours, minus settings that would point tiers at a store
    or database the benchmark did not choose."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TIERS_STATE_URL", "TIERS_DUCKDB_DATABASE")}
    env.update(extra)
    return env


@dataclass
class Measured:
    """One process from spawn to exit."""

    name: str
    wall: float
    cpu: float
    peak_mb: float
    load: float                    # 1-minute load average when it ended
    stdout: str = ""
    stderr: str = ""
    extra: dict = field(default_factory=dict)


def tree_usage(root: int) -> dict[int, tuple[float, float]]:
    """(resident MB, CPU seconds so far) of ``root`` and each of its descendants, from /proc
    (Linux)."""
    children: dict[int, list[int]] = {}
    usage: dict[int, tuple[float, float]] = {}
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        # after the command name: state, ppid, ... utime (11), stime (12) ... rss (21)
        children.setdefault(int(fields[1]), []).append(pid)
        usage[pid] = (int(fields[21]) * page / 2**20,
                      (int(fields[11]) + int(fields[12])) / tick)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in usage:
            out[pid] = usage[pid]
        todo += children.get(pid, [])
    return out


class TreeSampler(threading.Thread):
    """Peak resident memory of a process tree, sampled every ``interval`` seconds: for
    contenders whose helpers outlive the wait (Spark's JVM is never waited for, so ``wait4``
    does not count it)."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self.cpu: dict[int, float] = {}   # last CPU seconds seen per process of the tree
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            now = tree_usage(self.pid)
            self.peak = max(self.peak, sum(rss for rss, _ in now.values()))
            self.cpu.update({pid: cpu for pid, (_, cpu) in now.items()})
            self.done.wait(self.interval)


def run_process(name: str, cmd: Sequence[str], env: dict[str, str] | None = None,
                cwd: Path = ROOT, check: bool = True, tree: bool = False) -> Measured:
    """Run ``cmd``: wall time from spawn to exit, CPU (user + system) and peak resident memory
    of the process and the children it waited for (``wait4``); with ``tree``, the peak is also
    sampled over every descendant, waited for or not, and the larger figure kept."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err,
                                env=env if env is not None else child_env(), cwd=cwd)
        sampler = TreeSampler(proc.pid) if tree else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if sampler:
            sampler.done.set()
            sampler.join()
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if check and code != 0:
        raise SystemExit(f"{name} failed (exit {code}): {' '.join(cmd)}\n{stderr[-3000:]}")
    # ru_maxrss is in kilobytes on Linux
    peak = max(usage.ru_maxrss / 1024, sampler.peak if sampler else 0.0)
    cpu = max(usage.ru_utime + usage.ru_stime, sum(sampler.cpu.values()) if sampler else 0.0)
    return Measured(name, wall, cpu, peak, os.getloadavg()[0], stdout, stderr)


def repeated(name: str, cmd: Sequence[str], times: int, env: dict[str, str] | None = None,
             cwd: Path = ROOT) -> list[Measured]:
    runs = [run_process(name, cmd, env, cwd) for _ in range(times)]
    walls = ", ".join(f"{r.wall:.2f}" for r in runs)
    print(f"  {name:<34} median {statistics.median(r.wall for r in runs):7.2f} s "
          f"(runs: {walls})", file=sys.stderr)
    return runs


def median_run(runs: list[Measured]) -> Measured:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda m: m.wall)[(len(runs) - 1) // 2]


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 0.0


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def machine_line() -> str:
    """Date, cores, architecture, Python, RAM and the load average (1 / 5 / 15 minutes) now."""
    return (f"{dt.date.today():%Y-%m-%d}, {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, {ram_gb():.0f} GB RAM, "
            f"load average {load_text()}")


LOAD_NOTE = ("The load average is the machine's run queue (1 / 5 / 15 minutes); above the "
             "core count other work shared the machine and the seconds are upper bounds.")


def write_section(name: str, body: str, path: Path = DOC) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` (appended
    when absent); everything outside the markers, hand-written prose included, is kept."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else (
        "# Performance\n\nFigures written by the benchmark scripts; each script owns one "
        "section between its markers.\n")
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote the {name} section of {path.relative_to(ROOT)}", file=sys.stderr)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def results_dir() -> Path:
    path = data_dir() / "results"
    path.mkdir(exist_ok=True)
    return path


def save_result(name: str, figures: dict) -> None:
    """Keep a script's headline figures (bench-data/results/NAME.json) for the summary that
    benchmarks/all.py writes; the date and load average go with them."""
    import json

    figures = {"date": f"{dt.date.today():%Y-%m-%d}", "load": load_text(), **figures}
    (results_dir() / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str),
                                                encoding="utf-8")
