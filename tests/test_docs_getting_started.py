"""docs/getting-started.md runs as written: its marked commands are run, in order, in a copy of
rulesets/, and what they print must match the output shown on the page.

Marks on the page (HTML comments, invisible when rendered), on the line before a fence:

- ``<!-- run -->`` before a ```bash block: run it (``bash -e``) and expect exit 0;
  ``<!-- run: exit=2 stream=stderr -->`` expects another exit code or compares stderr.
  A ```text block right after it (blank lines between only) is the expected output.
- ``<!-- file: rulesets/shop.yaml -->`` before any block: write its text to that path first.

The comparison masks what legitimately differs from one run to the next (date-times, coupon
codes, run ids, durations, the temporary folder) and the padding of table cells, and is exact
on everything else: tier counts, spend, events, intents, coupons, file names, messages.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "getting-started.md"
# the page shows what a 120-column terminal (or a pipe with COLUMNS=120) prints
COLUMNS = "120"

FENCE = re.compile(r"^```(\w*)")
RUN = re.compile(r"^<!-- run(?::(?P<opts>[^>]*?))?\s*-->$")
FILE = re.compile(r"^<!-- file: (?P<path>\S+) -->$")

MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?"), "<time>"),
    (re.compile(r"\b[A-Z]+-[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}\b"), "<code>"),
    (re.compile(r"\brun \d+\b"), "run <id>"),
    (re.compile(r"\bpid \d+ on \S+"), "pid <pid> on <host>"),
    # `tiers runs`: the run id is the first cell, the seconds it took the last
    (re.compile(r"^│\s*\d+\s*│"), "│ <id> │"),
    (re.compile(r"│\s*\d+\.\d\s*│$"), "│ <secs> │"),
]


@dataclass
class Block:
    line: int          # 1-based line of the opening fence
    lang: str
    text: str
    mark: str          # the non-blank line before the fence ("" if none)
    gap: bool = False  # only blank lines since the previous block


@dataclass
class Step:
    line: int
    commands: str
    exit: int = 0
    stream: str = "stdout"
    expected: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # written before the commands


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    lines = text.splitlines()
    i, last_end = 0, -10
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = start + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        before = [s for s in lines[last_end + 1:start] if s.strip()] if last_end >= 0 else None
        prev = next((s for s in reversed(lines[:start]) if s.strip()), "")
        out.append(Block(start + 1, m.group(1), "\n".join(lines[start + 1:j]),
                         prev.strip(), gap=before == []))
        last_end = j
        i = j + 1
    return out


def steps(text: str) -> list[Step]:
    found: list[Step] = []
    pending: dict[str, str] = {}
    bs = blocks(text)
    for k, b in enumerate(bs):
        if m := FILE.match(b.mark):
            pending[m.group("path")] = b.text + "\n"
            continue
        m = RUN.match(b.mark)
        if not m:
            continue
        assert b.lang == "bash", f"{PAGE.name}:{b.line}: a run mark belongs before ```bash"
        opts = dict(o.split("=", 1) for o in (m.group("opts") or "").split())
        nxt = bs[k + 1] if k + 1 < len(bs) else None
        expected = nxt.text if nxt and nxt.gap and nxt.lang == "text" else None
        found.append(Step(b.line, b.text, int(opts.get("exit", 0)), opts.get("stream", "stdout"),
                          expected, pending))
        pending = {}
    return found


def normalise(text: str, tmp: Path | None = None) -> list[str]:
    if tmp is not None:
        text = text.replace(str(tmp), "<tmp>")
    out = []
    for line in text.splitlines():
        for pattern, repl in MASKS:
            line = pattern.sub(repl, line)
        line = re.sub(r"[─━]+", "─", line)
        line = re.sub(r"[ \t]+", " ", line).rstrip()
        out.append(line)
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def environment() -> dict[str, str]:
    # a reader's plain shell: no store or secret of their own, no forced colours
    env = {k: v for k, v in os.environ.items()
           if k not in ("TIERS_STATE_URL", "TIERS_COUPON_SECRET", "PYTHONPATH", "FORCE_COLOR",
                        "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    bindir = str(Path(sys.executable).parent)  # where the `tiers` script of this install is
    env.update(PATH=bindir + os.pathsep + env.get("PATH", ""), COLUMNS=COLUMNS,
               PYTHONIOENCODING="utf-8", NO_COLOR="1")
    return env


def test_the_page_has_commands_with_outputs():
    found = steps(PAGE.read_text(encoding="utf-8"))
    assert len(found) >= 5
    assert sum(s.expected is not None for s in found) >= 5
    assert any("--dry-run" in s.commands for s in found)


def test_the_comparison_masks_what_varies_and_nothing_else():
    shown = ("│   1 │ retail │ 2026-11-21 │ done │ 4,000 │ 621 │ 2026-12-02 06:18:37 │    29.1 │\n"
             '"VIP-BSOT-TK27-K5PT-IDH3","C00003",10\nrun 1 recorded in the state store')
    again = ("│  12 │ retail │ 2026-11-21 │ done │ 4,000 │ 621 │ 2027-01-05 23:01:09 │     7.0 │\n"
             '"VIP-3SD4-ZF5Q-PXHA-4N7J","C00003",10\nrun 12 recorded in the state store')
    assert normalise(shown) == normalise(again)
    for figure, changed in (("4,000", "4,001"), ("621", "620"), ("2026-11-21", "2026-11-22"),
                            ("C00003", "C00004"), ("done", "failed")):
        assert normalise(shown) != normalise(shown.replace(figure, changed, 1)), figure


@pytest.mark.slow
def test_getting_started_runs_as_written(tmp_path: Path):
    shutil.copytree(REPO / "rulesets", tmp_path / "rulesets",
                    ignore=shutil.ignore_patterns(".tiers"))
    env = environment()
    listed = subprocess.run(["tiers", "plugins", "--json"], env=env, capture_output=True,
                            text=True, check=True, timeout=120)
    outside = [p["name"] for p in json.loads(listed.stdout) if not p["builtin"]]
    if outside:  # they add types to the messages the page shows
        pytest.skip(f"the page shows tiers with its built-in plugins only; installed here: "
                    f"{', '.join(outside)}")
    for step in steps(PAGE.read_text(encoding="utf-8")):
        for rel, content in step.files.items():
            (tmp_path / rel).write_text(content, encoding="utf-8")
        proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step.commands],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        where = f"{PAGE.name}:{step.line}: `{step.commands}`"
        assert proc.returncode == step.exit, (
            f"{where} exited {proc.returncode}, the page expects {step.exit}\n"
            f"{proc.stdout}\n{proc.stderr}")
        if step.expected is None:
            continue
        got = normalise(getattr(proc, step.stream), tmp_path)
        want = normalise(step.expected, tmp_path)
        assert got == want, (f"{where}: the {step.stream} differs from the page "
                             "(- page, + now):\n"
                             + "\n".join(difflib.unified_diff(want, got, lineterm="")))
