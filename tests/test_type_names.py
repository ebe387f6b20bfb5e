"""Ibis' type parser answered from a table for plain names (tiers.engine.type_names): the same
objects Ibis' own parser returns, and Ibis' parser never runs for them."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import tiers
import ibis
import ibis.expr.datatypes as dt
from tiers.engine.type_names import _plain

module = sys.modules["ibis.expr.datatypes.parse"]
fast, real = module.parse, module.parse.__wrapped__
names = [*_plain(), "decimal(18, 2)", "decimal(38,9)"]
for name in names:
    assert dt.dtype(name) is fast(name) or dt.dtype(name) == fast(name), name
assert real.cache_info().currsize == 0, real.cache_info()  # never reached for these
for name in [*names, "timestamp('UTC')", "array<decimal(18, 2)>", "!int64"]:
    got, want = fast(name), real(name)
    assert got == want and type(got) is type(want) and got.nullable == want.nullable, name
assert fast("decimal", (12, 3)) == real("decimal", (12, 3))
print(len(names))
"""


def test_plain_type_names_are_ibis_own_types_without_the_parser():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 15
