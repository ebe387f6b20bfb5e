"""Progress on long work: on a terminal's stderr only, never on stdout; quiet in pipes, in CI
and with --format json or csv."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.shop import write_shop

COUPON = """
    - type: coupon
      id: vip_discount
      when: {tier: vip}
      value: 50
    """


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("CI", "TIERS_STATE_URL")}
    return {**out, "PYTHONPATH": str(REPO), "TERM": "xterm-256color", **extra}


def on_a_terminal(args: list[str], cwd: Path, **extra: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal and stdout in a pipe: (code, stdout, what
    the terminal got)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tiers", *args], cwd=cwd, env=env(**extra),
                            stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        terminal += chunk
    stdout = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=300)
    os.close(leader)
    return code, stdout.decode(), terminal.decode(errors="replace")


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    write_shop(tmp_path, COUPON)
    return tmp_path


def test_run_shows_its_stages_on_the_terminal_and_nothing_on_stdout(shop):
    code, stdout, terminal = on_a_terminal(["run", "shop.yaml", "--out", "out.csv"], shop)
    assert code == 0, terminal
    for stage in ("run: load sources", "run: evaluate", "run: plan", "run: record",
                  "run: apply vip_discount", "run: write out.csv"):
        assert stage in terminal
    assert "3/3" in terminal  # apply N/M
    assert "\x1b" not in stdout and "run: " not in stdout
    assert "vip_discount" in stdout and "Total" in stdout


@pytest.mark.parametrize("args", [
    ["explain", "shop.yaml", "C1"], ["diff", "shop.yaml", "shop.yaml"],
    ["report", "shop.yaml", "--html", "r.html"],
])
def test_explain_diff_and_report_show_their_stages(shop, args):
    code, stdout, terminal = on_a_terminal(args, shop)
    assert code == 0, terminal
    assert f"{args[0]}: load sources and evaluate" in terminal
    assert f"{args[0]}: " not in stdout


def test_json_and_ci_are_quiet_even_on_a_terminal(shop):
    code, stdout, terminal = on_a_terminal(["run", "shop.yaml", "--format", "json"], shop)
    assert code == 0 and json.loads(stdout)["customers"] == 6
    assert "run: " not in terminal and terminal.strip() == ""
    code, stdout, terminal = on_a_terminal(["explain", "shop.yaml", "C1"], shop, CI="true")
    assert code == 0 and stdout.startswith("C1 in shop")
    assert "explain: " not in terminal


def test_quiet_in_pipes(shop):
    res = subprocess.run([sys.executable, "-m", "tiers", "run", "shop.yaml"], cwd=shop,
                         env=env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert "run: " not in res.stdout and "\x1b" not in res.stdout
