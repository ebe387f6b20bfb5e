from __future__ import annotations

import csv
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
def registry():
    """A fresh plugin manager and registry with built-ins only (no installed plugins)."""
    from tiers.core.plugins import get_plugin_manager

    return get_plugin_manager(entry_points=False)
