"""The bundled sample data is exactly what the seeded generator in the repo produces."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_generator_reproduces_the_bundled_data(tmp_path):
    subprocess.run([sys.executable, str(REPO / "scripts" / "generate_samples.py"),
                    "--root", str(tmp_path)], check=True, capture_output=True, timeout=300)
    root = REPO / "rulesets"
    bundled = sorted(p.relative_to(root) for p in (root / "data").rglob("*.csv"))
    assert len(bundled) >= 10
    for rel in bundled:
        assert (tmp_path / rel).read_bytes() == (REPO / "rulesets" / rel).read_bytes(), rel
