"""The safe expression compiler: what it computes, and every kind of rejected input."""

from __future__ import annotations

import ibis
import pytest

from tiers.core.expressions import MAX_LENGTH, ExpressionError, parse_expression
from tiers.engine.expressions import compile_expression

DATA = {
    "customer_id": ["a", "b", "c", "d"],
    "spend": [40.0, 40.01, None, 500.0],
    "orders": [2, 2, 0, 1],
    "recency_days": [3, None, None, 30],
    "locale": ["en", "zh-CN", None, "en"],
}


@pytest.fixture(scope="module")
def table():
    return ibis.memtable(DATA)


def values(table, src, **kw):
    expr = compile_expression(src, table, **kw)
    return table.mutate(x=expr).order_by("customer_id").x.to_pyarrow().to_pylist()


@pytest.mark.parametrize(("src", "expected"), [
    # exactly on the threshold: 40 is not > 40
    ("orders >= 2 and spend > 40", [False, True, False, False]),
    ("orders >= 2 or spend >= 500", [True, True, False, True]),
    # missing recency (no orders) makes the comparison false, so `not` of it is true
    ("recency_days < 30", [True, False, False, False]),
    ("not (recency_days < 30)", [False, True, True, True]),
    ("1 <= orders < 2", [False, False, False, True]),
    ("spend / orders > 20", [False, True, False, True]),
    # division by zero gives a missing value, never an error
    ("spend / (orders - orders) >= 0", [False, False, False, False]),
    ("locale in ['en', 'fr']", [True, False, False, True]),
    ("locale not in ['en']", [False, True, True, False]),
    ("locale == 'zh-CN'", [False, True, False, False]),
    ("max(spend, 100) == 100", [True, True, True, False]),
    ("coalesce(spend, 0) + 10 > 45", [True, True, False, True]),
    ("is_missing(spend)", [False, False, True, False]),
    ("orders % 2 == 0 and -spend < 0", [True, True, False, False]),
    ("true", [True, True, True, True]),
])
def test_conditions(table, src, expected):
    assert values(table, src) == expected


def test_numbers_and_mapping(table):
    # a rule's name can stand for another column (e.g. the windowed spend column)
    got = values(table, "floor(total / 100) * 2", allowed={"total": "spend"}, kind="number")
    assert got == [0, 0, None, 10]


def test_multiline_source_keeps_offsets(table):
    src = "orders >= 2\nand spnd > 40"
    with pytest.raises(ExpressionError) as info:
        compile_expression(src, table)
    assert info.value.offset == src.index("spnd")


@pytest.mark.parametrize(("src", "message", "offset"), [
    ("spnd > 1", "unknown metric 'spnd'", 0),
    ("orders >= 2 and spnd > 40", "unknown metric 'spnd'", 16),
    ("spend >", "syntax error", 7),
    ("orders >= 2 and and spend", "syntax error", 16),
    ("spend.__class__ == 1", "attribute access", 0),
    ("__import__('os').system('id')", "is not allowed", 0),
    ("__import__('os')", "function '__import__' is not allowed", 0),
    ("len(spend) > 1", "function 'len' is not allowed", 0),
    ("spend > 1 if orders else 0", "`x if c else y`", 0),
    ("[1] == [1]", "List is not allowed", 0),
    ("spend ** 2 > 1", "operator '**'", 0),
    ("spend + 1", "must be a condition", 0),
    ("spend > True", "cannot compare", 8),
    ("locale > 3", "cannot compare", 9),
    ("spend > 1 and orders", "is a value, not a condition", 14),
    ("locale + 1 > 2", "is not a number", 0),
    ("locale in [spend]", "`in` needs a list of constants", 10),
    ("max(spend) > 1", "max() takes at least 2", 0),
    ("lambda: 1", "Lambda", 0),
    ("(x := 1)", "NamedExpr", 1),
    ("", "empty", None),
])
def test_rejected(table, src, message, offset):
    with pytest.raises(ExpressionError) as info:
        compile_expression(src, table)
    assert message in str(info.value)
    assert info.value.offset == offset


def test_did_you_mean(table):
    with pytest.raises(ExpressionError) as info:
        compile_expression("ordrs > 1", table)
    assert "did you mean 'orders'" in (info.value.hint or "")


def test_length_cap():
    with pytest.raises(ExpressionError, match=f"limited to {MAX_LENGTH} characters"):
        parse_expression("spend > 1 and " * 100 + "true")


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse_expression("not " * 60 + "true")


def test_names_are_collected_with_offsets():
    parsed = parse_expression("orders >= 2 and spend > 40 and orders < 9")
    assert parsed.names == (("orders", 0), ("spend", 16), ("orders", 31))
    assert parsed.name_list() == ["orders", "spend"]


def test_pointer_marks_the_column(table):
    with pytest.raises(ExpressionError) as info:
        compile_expression("orders >= 2 and spnd > 40", table)
    assert info.value.pointer() == "orders >= 2 and spnd > 40\n" + " " * 16 + "^"
    assert "at column 17" in info.value.describe()
