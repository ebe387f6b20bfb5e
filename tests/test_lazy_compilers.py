"""Ibis' compilers package, imported one compiler at a time (tiers.engine.lazy_compilers):
DuckDB connects without the other backends' compilers, and every name the package offers is
still there, the same object Ibis defines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ibis

REAL_INIT = Path(ibis.__file__).parent / "backends" / "sql" / "compilers" / "__init__.py"


def python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def real_names() -> list[str]:
    tree = ast.parse(REAL_INIT.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "__all__":  # type: ignore
            return list(ast.literal_eval(node.value))
    raise AssertionError("no __all__ in ibis.backends.sql.compilers")


def test_duckdb_connects_without_the_other_compilers():
    loaded = python(
        "import sys, tiers, ibis\n"
        "con = ibis.duckdb.connect()\n"
        "assert con.raw_sql('SELECT 41 + 1').fetchone() == (42,)\n"
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
        "             if m.startswith('ibis.backends.sql.compilers.')))")
    backends = {name[:-len("Compiler")].lower() for name in real_names()}
    assert set(ast.literal_eval(loaded)) & backends == {"duckdb"}


def test_every_compiler_is_still_offered_and_is_ibis_own():
    from tiers.engine.lazy_compilers import NAMES

    assert sorted(NAMES) == sorted(real_names())
    names = python(
        "import importlib, tiers\n"
        "import ibis.backends.sql.compilers as sc\n"
        f"for name in {list(NAMES)!r}:\n"
        "    sub = importlib.import_module('ibis.backends.sql.compilers.' + "
        "name[:-8].lower())\n"
        "    assert getattr(sc, name) is getattr(sub, name), name\n"
        "from ibis.backends.sql.compilers import *  # noqa\n"
        "print(PostgresCompiler.__name__, sc.duckdb.compiler.__class__.__name__)")
    assert names == "PostgresCompiler DuckDBCompiler"


def test_sql_for_another_dialect_compiles():
    sql = python(
        "import tiers, ibis\n"
        "t = ibis.table({'a': 'int64'}, name='t')\n"
        "print(ibis.to_sql(t.filter(t.a > 1), dialect='postgres').replace(chr(10), ' '))")
    assert 'FROM "t"' in sql and '"a" > 1' in sql
