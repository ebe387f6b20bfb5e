"""docs/scheduling.md works as written: its cron line runs `tiers run` under cron's bare
environment and exits with tiers' code, an overlapping run fails with the lock message the
page shows, and its systemd units pass `systemd-analyze verify` and their command runs.

The page's paths (/srv/tiers) are replaced by a temporary folder holding a copy of rulesets/
and a `.venv/bin/tiers` that points at this installation's script."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "scheduling.md"
HOME = "/srv/tiers"
UNIT_DIR = "/etc/systemd/system/"
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
LOCK_MESSAGE = "another run of ruleset 'retail' is active against this store"


def fenced(lang: str) -> list[tuple[str, str]]:
    """(the prose before it, the text) of every ```lang block of the page."""
    text = PAGE.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2)) for m in re.finditer(
        r"((?:(?!```).)*?)```" + lang + r"\n(.*?)```", text, re.S)]


def crontab() -> tuple[dict[str, str], list[tuple[list[str], str]]]:
    blocks = fenced("crontab")
    assert len(blocks) == 1, "the page has one ```crontab block"
    env: dict[str, str] = {}
    jobs = []
    for line in blocks[0][1].splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if m := re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line):
            env[m.group(1)] = m.group(2)
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"not a crontab job line: {line}"
        jobs.append((fields[:5], fields[5]))
    return env, jobs


def cron_field_ok(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if not m:
            return False
        numbers = [int(n) for n in m.group(2, 3) if n is not None]
        if any(not low <= n <= high for n in numbers) or m.group(4) == "0":
            return False
    return True


def as_cron_runs_it(command: str) -> str:
    """cron's own step: an unescaped % ends the command (the rest is stdin), \\% is a %."""
    assert re.search(r"(?<!\\)%", command) is None, f"unescaped % in the cron command: {command}"
    return command.replace("\\%", "%")


def units() -> dict[str, str]:
    found = {}
    for before, text in fenced("ini"):
        names = re.findall(re.escape(UNIT_DIR) + r"([\w@.-]+)", before)
        assert names, f"an ```ini block without its {UNIT_DIR}NAME before it:\n{text}"
        found[names[-1]] = text
    return found


def unit_value(text: str, key: str) -> str:
    m = re.search(rf"^{key}=(.*)$", text, re.M)
    assert m, f"no {key}= in\n{text}"
    return m.group(1)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """/srv/tiers as the page lays it out: the rulesets, a virtualenv's tiers, log/."""
    shutil.copytree(REPO / "rulesets", tmp_path / "rulesets",
                    ignore=shutil.ignore_patterns(".tiers"))
    script = shutil.which("tiers", path=str(Path(sys.executable).parent))
    assert script, "no `tiers` script beside this Python: pip install -e . first"
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "tiers").symlink_to(script)
    (tmp_path / "log").mkdir()
    return tmp_path


def cron_environment(extra: dict[str, str]) -> dict[str, str]:
    """What cron gives a job: next to nothing, plus the crontab's own variables."""
    return {"HOME": os.environ.get("HOME", "/root"), "LOGNAME": "tiers", "SHELL": "/bin/sh",
            "PATH": "/usr/bin:/bin", **extra}


def cron_command(home: Path) -> tuple[str, dict[str, str]]:
    env, jobs = crontab()
    assert len(jobs) == 1
    fields, command = jobs[0]
    for field, (low, high) in zip(fields, CRON_RANGES, strict=True):
        assert cron_field_ok(field, low, high), f"bad cron time field {field!r}"
    assert "tiers run" in command
    return as_cron_runs_it(command).replace(HOME, str(home)), cron_environment(env)


def test_the_page_has_a_cron_line_and_three_units():
    env, jobs = crontab()
    assert "MAILTO" in env and len(jobs) == 1
    assert set(units()) == {"tiers-retail.service", "tiers-retail.timer",
                            "tiers-alert@.service"}


def test_cron_field_check_refuses_what_cron_refuses():
    assert cron_field_ok("15", 0, 59) and cron_field_ok("*/5", 0, 59)
    assert cron_field_ok("1-5,7", 0, 7)
    for bad in ("60", "*/0", "1-99", "mon", "", "2,"):
        assert not cron_field_ok(bad, 0, 59), bad
    with pytest.raises(AssertionError, match="unescaped %"):
        as_cron_runs_it("date +%F")


@pytest.mark.slow
def test_cron_line_runs_tiers_and_logs_quietly(home):
    command, env = cron_command(home)
    proc = subprocess.run(["sh", "-c", command], cwd="/", env=env, capture_output=True,
                          text=True, timeout=300)
    log = (home / "log" / "retail.log").read_text(encoding="utf-8")
    assert proc.returncode == 0, proc.stdout + proc.stderr + log
    assert proc.stdout == proc.stderr == ""  # nothing for cron to mail
    assert re.match(r"== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ tiers run rulesets/retail.yaml\n", log)
    assert "retail: tiers as of 2026-11-21" in log
    assert "run 1 recorded in the state store" in log
    assert (home / "rulesets" / ".tiers" / "state.db").is_file()


class Hold:
    """A webhook receiver whose first request waits until released: it keeps a run in the
    middle of applying its actions, holding the run lock, for as long as the test needs."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        hold = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                hold.arrived.set()
                hold.release.wait(120)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hold() -> Iterator[Hold]:
    h = Hold()
    yield h
    h.release.set()
    h.server.shutdown()


def lock_message_on_the_page() -> str:
    for _, text in fenced("text"):
        if LOCK_MESSAGE in text:
            return text.strip()
    raise AssertionError(f"no ```text block with {LOCK_MESSAGE!r} on the page")


def masked(message: str) -> str:
    message = re.sub(r"\(run \d+, pid \d+ on \S+, started [\d-]+ [\d:]+ UTC\)",
                     "(run <id>, pid <pid> on <host>, started <time> UTC)", message)
    message = re.sub(r"If pid \d+ is", "If pid <pid> is", message)
    return message.strip()


@pytest.mark.slow
def test_an_overlapping_run_exits_7_with_the_lock_message(home, hold):
    ruleset = home / "rulesets" / "retail.yaml"
    with open(ruleset, "a", encoding="utf-8") as fh:  # `actions:` is the file's last key
        fh.write(f"  - type: webhook\n    id: hold\n    when: {{tier: vip}}\n"
                 f"    url: {hold.url}\n    batch: 1000\n")
    command, env = cron_command(home)
    first = subprocess.Popen(["sh", "-c", command], cwd="/", env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert hold.arrived.wait(180), first.communicate(timeout=5)
        second = subprocess.run(["sh", "-c", command], cwd="/", env=env, capture_output=True,
                                text=True, timeout=300)
    finally:
        hold.release.set()
    out, err = first.communicate(timeout=300)
    log = (home / "log" / "retail.log").read_text(encoding="utf-8")
    assert first.returncode == 0, out + err + log
    assert second.returncode == 7, second.stdout + second.stderr + log
    # cron mails this one line; the log has the message, which reads as the page says
    assert second.stdout == (f"tiers run rulesets/retail.yaml failed (exit 7), see "
                             f"{home}/log/retail.log\n")
    error = next(line for line in log.splitlines() if LOCK_MESSAGE in line)
    assert masked(error) == masked(lock_message_on_the_page())
    # the refused run wrote nothing: one run in the store, done, with the webhook's intents
    runs = subprocess.run([str(home / ".venv" / "bin" / "tiers"), "runs", "-r", str(ruleset),
                           "--json"], env=env, capture_output=True, text=True, check=True)
    recorded = json.loads(runs.stdout)
    assert [(r["id"], r["status"]) for r in recorded] == [(1, "done")]
    assert recorded[0]["intents_done"] == recorded[0]["intents_planned"] > 620


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    return tool


def test_units_pass_systemd_analyze_verify(home, tmp_path):
    tool = systemd_analyze()
    folder = tmp_path / "units"
    folder.mkdir()
    for name, text in units().items():
        (folder / name).write_text(text.replace(HOME, str(home)) + "\n", encoding="utf-8")
    proc = subprocess.run([tool, "verify", "--man=no", *sorted(map(str, folder.iterdir()))],
                          capture_output=True, text=True, timeout=120)
    # verify warns about unknown keys and bad values but still exits 0: any output fails
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_timer_calendar_is_understood():
    tool = systemd_analyze()
    calendar = unit_value(units()["tiers-retail.timer"], "OnCalendar")
    proc = subprocess.run([tool, "calendar", calendar], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"Next elapse: .* 02:15:00", proc.stdout)


@pytest.mark.slow
def test_service_command_runs_tiers(home):
    service = units()["tiers-retail.service"]
    assert unit_value(service, "Type") == "oneshot"
    cwd = unit_value(service, "WorkingDirectory").replace(HOME, str(home))
    argv = shlex.split(unit_value(service, "ExecStart").replace(HOME, str(home)))
    # systemd runs ExecStart without a shell, in a bare environment of its own
    proc = subprocess.run(argv, cwd=cwd, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "run 1 recorded in the state store" in proc.stdout
