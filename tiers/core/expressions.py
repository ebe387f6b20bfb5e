"""Safe rule expressions: a small whitelisted grammar, parsed and checked here and compiled
to Ibis by :mod:`tiers.engine.expressions`.

A ruleset may write conditions such as ``orders >= 2 and spend > 40``. The text is parsed with
Python's ``ast`` module and only the nodes listed here are accepted; nothing is ever evaluated
by Python, so an expression can read metric columns and do arithmetic, and nothing else.

Grammar: numbers, strings, ``true``/``false``, metric and attribute names, ``+ - * / %``,
comparisons (chains allowed: ``10 <= orders < 20``), ``in`` / ``not in`` a list of constants,
``and`` / ``or`` / ``not``, parentheses, and the functions in :data:`FUNCTIONS`.

Missing values: a comparison involving a missing value (no orders, so no ``recency_days``) is
false, so ``not (recency_days < 30)`` holds for a customer who never ordered. Division by zero
gives a missing value rather than an error, on every backend.
"""

from __future__ import annotations

import ast
import operator as op
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tiers.core import exits
from tiers.core.errors import TiersError, did_you_mean

MAX_LENGTH = 1000
MAX_DEPTH = 40

COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: op.eq, ast.NotEq: op.ne, ast.Lt: op.lt, ast.LtE: op.le, ast.Gt: op.gt,
    ast.GtE: op.ge,
}
ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: op.add, ast.Sub: op.sub, ast.Mult: op.mul, ast.Mod: op.mod,
}
_SYMBOL = {
    ast.Pow: "**", ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
    ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@", ast.Is: "is", ast.IsNot: "is not",
    ast.Invert: "~", ast.UAdd: "unary +",
}
CONSTANT_NAMES = {"true": True, "false": False, "True": True, "False": False}


# name -> (minimum arguments, maximum arguments or None); compiled in tiers.engine.expressions
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "floor": (1, 1),
    "ceil": (1, 1),
    "round": (1, 2),
    "min": (2, None),
    "max": (2, None),
    "coalesce": (2, None),
    "is_missing": (1, 1),
}


class ExpressionError(TiersError):
    """An expression could not be parsed or compiled; ``offset`` is the 0-based column."""

    exit_code = exits.USAGE

    def __init__(self, message: str, source: str, offset: int | None = None,
                 hint: str | None = None):
        self.message = message
        self.source = source
        self.offset = offset
        self.hint = hint
        super().__init__(self.render())

    def pointer(self) -> str:
        """The expression with a caret under the offending column."""
        if self.offset is None:
            return self.source
        return f"{self.source}\n{' ' * self.offset}^"

    def describe(self) -> str:
        """One line: what is wrong and at which column (1-based, as editors count)."""
        where = f" at column {self.offset + 1}" if self.offset is not None else ""
        return f"{self.message}{where}"

    def render(self) -> str:
        text = f"expression {self.source!r}: {self.describe()}"
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text


@dataclass(frozen=True)
class Parsed:
    """A checked expression tree and the names it reads, with their offsets."""

    source: str
    tree: ast.expr
    names: tuple[tuple[str, int], ...]

    def name_list(self) -> list[str]:
        return list(dict.fromkeys(n for n, _ in self.names))


def offset_of(node: ast.AST) -> int | None:
    return getattr(node, "col_offset", None)


def parse_expression(src: str) -> Parsed:
    """Parse and whitelist-check ``src`` without compiling it; raises :class:`ExpressionError`.

    Use it at validation time, before any table exists, to find syntax errors and the names
    the expression reads."""
    if not isinstance(src, str) or not src.strip():
        raise ExpressionError("an expression is empty", str(src), None,
                              hint="write a condition such as `orders >= 2 and spend > 40`")
    if len(src) > MAX_LENGTH:
        raise ExpressionError(f"an expression is limited to {MAX_LENGTH} characters, this one "
                              f"has {len(src)}", src[:60] + "...", None,
                              hint="split the rule, or declare a metric for the repeated part")
    # Multi-line YAML scalars: same length, so offsets still point into the original text.
    flat = src.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    try:
        tree = ast.parse(flat.strip(), mode="eval")
    except SyntaxError as exc:
        lead = len(flat) - len(flat.lstrip())
        if exc.offset and exc.offset >= 1:
            col, msg = exc.offset - 1 + lead, exc.msg
        else:  # Python reports offset 0 when the text ends too early
            col, msg = len(flat.rstrip()), f"{exc.msg} (the expression ends too early)"
        raise ExpressionError(f"syntax error: {msg}", flat, col,
                              hint="check operators and parentheses; use `and`/`or`/`not`, "
                                   "`==` for equality, and quotes around text") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression nested too deeply", flat, None) from None
    lead = len(flat) - len(flat.lstrip())
    if lead:
        for node in ast.walk(tree):
            if hasattr(node, "col_offset"):
                node.col_offset += lead  # type: ignore[attr-defined]
    names: list[tuple[str, int]] = []
    _check(tree.body, flat, names, 0)
    return Parsed(flat, tree.body, tuple(names))


def _check(node: ast.AST, src: str, names: list[tuple[str, int]], depth: int) -> None:
    """Reject every node outside the grammar, and collect names."""
    if depth > MAX_DEPTH:
        raise ExpressionError("expression nested too deeply", src, offset_of(node))

    def bad(what: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(f"{what} is not allowed in an expression", src, offset_of(node),
                               hint=hint)

    sub = depth + 1
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, src, names, sub)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.Not, ast.USub)):
            raise bad(f"operator {_SYMBOL.get(type(node.op), type(node.op).__name__)!r}")
        _check(node.operand, src, names, sub)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in ARITHMETIC and not isinstance(node.op, ast.Div):
            sym = _SYMBOL.get(type(node.op), type(node.op).__name__)
            raise bad(f"operator {sym!r}", hint="use + - * / % and the functions "
                      f"{', '.join(FUNCTIONS)}")
        _check(node.left, src, names, sub)
        _check(node.right, src, names, sub)
    elif isinstance(node, ast.Compare):
        _check(node.left, src, names, sub)
        for o, c in zip(node.ops, node.comparators, strict=True):
            if isinstance(o, (ast.In, ast.NotIn)):
                if not isinstance(c, (ast.List, ast.Tuple)) or not c.elts or not all(
                        isinstance(e, ast.Constant) and type(e.value) in (int, float, str)
                        for e in c.elts):
                    raise ExpressionError("`in` needs a list of constants, e.g. "
                                          "`locale in ['en', 'zh-CN']`", src, offset_of(c))
            elif type(o) not in COMPARISONS:
                raise bad(f"operator {_SYMBOL.get(type(o), type(o).__name__)!r}",
                          hint="compare with == != < <= > >=")
            else:
                _check(c, src, names, sub)
    elif isinstance(node, ast.Call):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        if fname not in FUNCTIONS:
            shown = fname or ast.get_source_segment(src, node.func) or "this call"
            raise ExpressionError(
                f"function {shown!r} is not allowed", src, offset_of(node),
                hint=f"{did_you_mean(shown, FUNCTIONS)}allowed functions: {', '.join(FUNCTIONS)}")
        lo, hi = FUNCTIONS[fname]
        if node.keywords or not lo <= len(node.args) <= (hi if hi is not None else 99):
            want = f"{lo}" if lo == hi else (f"{lo} to {hi}" if hi else f"at least {lo}")
            raise ExpressionError(f"{fname}() takes {want} positional argument(s)", src,
                                  offset_of(node))
        for a in node.args:
            _check(a, src, names, sub)
    elif isinstance(node, ast.Name):
        if node.id not in CONSTANT_NAMES:
            names.append((node.id, node.col_offset))
    elif isinstance(node, ast.Constant):
        if type(node.value) not in (int, float, str, bool):
            raise bad(f"constant {node.value!r}")
    elif isinstance(node, ast.Attribute):
        raise bad("attribute access (`.`)", hint="refer to metrics by their plain name")
    elif isinstance(node, ast.IfExp):
        raise bad("`x if c else y`", hint="use `and` / `or`")
    else:
        raise bad(type(node).__name__)


def check_names(parsed: Parsed, allowed: Iterable[str]) -> None:
    """Raise :class:`ExpressionError` at the first name not in ``allowed``."""
    allowed = list(allowed)
    for name, offset in parsed.names:
        if name not in allowed:
            raise ExpressionError(
                f"unknown metric {name!r}", parsed.source, offset,
                hint=f"{did_you_mean(name, allowed)}available: {', '.join(sorted(allowed))}")


