"""`--engine pyspark` without the spark extra: the install hint, not Ibis' traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.shop import write_shop


def test_missing_pyspark_gives_the_install_hint(tmp_path: Path) -> None:
    stub = tmp_path / "stub" / "pyspark"
    stub.mkdir(parents=True)
    # what an environment without the extra does on `import pyspark`
    (stub / "__init__.py").write_text("raise ImportError(\"No module named 'pyspark'\")\n")
    ruleset = write_shop(tmp_path / "shop")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stub.parent), str(REPO)])}
    for args in (["run", ruleset, "--engine", "pyspark"],
                 ["explain", ruleset, "C1"]):
        if args[0] == "explain":
            text = ruleset.read_text(encoding="utf-8")
            ruleset.write_text(text.replace("name: shop\n", "name: shop\nengine: pyspark\n"),
                               encoding="utf-8")
        res = subprocess.run([sys.executable, "-m", "tiers", *map(str, args)], env=env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 9, res.stderr
        assert res.stderr == ("error: the pyspark engine needs PySpark; install it with "
                              "`pip install 'tiers[spark]'`\n")
        assert res.stdout == ""
