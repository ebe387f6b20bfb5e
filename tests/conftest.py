from __future__ import annotations

import csv
import textwrap
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

# Modules whose tests take many seconds each (found with `pytest --durations=0`), marked `slow`
# so that `pytest -m "not slow"` is a quick loop; CI runs everything. Slow tests in other
# modules carry `@pytest.mark.slow`, and PostgreSQL is the `postgresql` parameter of store_url.
SLOW_MODULES = frozenset({
    "test_spark_engine.py", "test_semantics_spark.py", "test_spark_log.py",  # PySpark
    "test_report_browser.py",  # Chromium through playwright
    "test_example_plugin.py", "test_action_plugins.py",  # pip installs into a virtualenv
    # the bundled sample rulesets (4,000 customers) evaluated end to end, several times
    "test_rulesets.py", "test_retail_actions.py", "test_cli.py", "test_explain.py",
    "test_explain_live_state.py", "test_materialize.py",
    # the CLI in subprocesses, once per format or umask
    "test_cli_output.py", "test_file_modes.py", "test_progress.py",
})


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def make_ruleset(tmp_path: Path) -> Callable[..., Path]:
    """Write a ruleset (dedented YAML) and optional data files into a temp folder."""

    def make(text: str, name: str = "ruleset.yaml", **files: list[Sequence[object]]) -> Path:
        for filename, rows in files.items():
            write_csv(tmp_path / f"{filename}.csv", rows[0], rows[1:])  # type: ignore[arg-type]
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return make


@pytest.fixture
def cli_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Any]:
    """The CLI run from ``tmp_path`` as the current folder, with no TIERS_STATE_URL: what a
    user in a project folder gets."""
    from typer.testing import CliRunner

    from tiers.cli.app import build_app

    monkeypatch.delenv("TIERS_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    app = build_app()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def cli() -> Callable[..., Any]:
    """Invoke the `tiers` CLI in-process: ``cli("run", path, "--format", "json")``."""
    from typer.testing import CliRunner

    from tiers.cli.app import app, build_app

    build_app()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def registry():
    """A fresh plugin manager and registry with built-ins only (no installed plugins)."""
    from tiers.core.plugins import get_plugin_manager

    return get_plugin_manager(entry_points=False)


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def pytest_configure(config: pytest.Config) -> None:
    """Compiled SQL is kept in a folder of the test session's own, not the user's cache
    (tiers.engine.sqlcache). Under pytest-xdist each worker gets a PostgreSQL database of its
    own (created from $TIERS_TEST_PG_URL's), since the tests wipe the database they are
    given."""
    import os
    import tempfile

    if "TIERS_CACHE_DIR" not in os.environ:
        os.environ["TIERS_CACHE_DIR"] = tempfile.mkdtemp(prefix="tiers-test-sql-")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("TIERS_TEST_PG_URL")
    if not worker or not url or url.endswith(f"_{worker}"):
        return
    import sqlalchemy as sa

    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": name}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    os.environ["TIERS_TEST_PG_URL"] = base.set(database=name).render_as_string(
        hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store_url(request, tmp_path: Path) -> str:
    """An empty state store: a SQLite file, and PostgreSQL from $TIERS_TEST_PG_URL (set by
    .ci/setup.d/20-postgres.sh, so it runs in CI)."""
    import os

    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = os.environ.get("TIERS_TEST_PG_URL")
    if not url:
        pytest.skip("TIERS_TEST_PG_URL is not set (CI sets it via .ci/setup.d/20-postgres.sh)")
    _reset_postgres(url)
    return url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                               ) -> Generator[None, Any, None]:
    """Under TIERS_NO_SKIPS=1 (set by .ci/run) a skipped test fails: CI installs Java,
    PostgreSQL and Chromium, so a skip there means a part did not run, not that it passed."""
    import os

    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("TIERS_NO_SKIPS") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under TIERS_NO_SKIPS=1: {reason}"


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of SLOW_MODULES `slow`; a renamed module must not turn quick unseen."""
    missing = sorted(m for m in SLOW_MODULES if not (HERE / m).is_file())
    if missing:
        raise pytest.UsageError(f"SLOW_MODULES in {__file__} names files that do not exist: "
                                f"{', '.join(missing)}; update the list")
    for item in items:
        if item.path.parent == HERE and item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
