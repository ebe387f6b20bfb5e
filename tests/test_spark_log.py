"""A PySpark run keeps Spark's log quiet: no "ERROR CodeGenerator" before the result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytest.importorskip("pyspark")


def test_a_spark_run_prints_no_code_generator_errors(tmp_path: Path) -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Java is needed for the Spark tests (install a JRE or set JAVA_HOME)")
    shutil.copytree(REPO / "rulesets", tmp_path / "rulesets")
    env = {k: v for k, v in os.environ.items() if k != "TIERS_SPARK_LOG_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    res = subprocess.run([sys.executable, "-m", "tiers", "run", "rulesets/retail.yaml",
                          "--engine", "pyspark", "--dry-run", "--format", "json"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    # the wide expression is compiled, then run interpreted when the compiler gives up:
    # the result is the same, so the compiler's errors are not shown
    assert "CodeGenerator" not in res.stderr
    assert "generated.java" not in res.stderr and "ERROR" not in res.stderr
    tiers = {t["tier"]: t["customers"] for t in json.loads(res.stdout)["tiers"]}
    assert tiers == {"normal": 2016, "senior": 1364, "vip": 620}
