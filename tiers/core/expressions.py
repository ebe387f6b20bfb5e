"""Safe rule expressions: a small whitelisted grammar compiled to an Ibis expression.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tiers.core.errors import TiersError, did_you_mean

if TYPE_CHECKING:
    import ibis.expr.types as ir

MAX_LENGTH = 1000
MAX_DEPTH = 40
Kind = Literal["boolean", "number", "any"]

_CMP: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: op.eq, ast.NotEq: op.ne, ast.Lt: op.lt, ast.LtE: op.le, ast.Gt: op.gt,
    ast.GtE: op.ge,
}
_BIN: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: op.add, ast.Sub: op.sub, ast.Mult: op.mul, ast.Mod: op.mod,
}
_SYMBOL = {
    ast.Pow: "**", ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
    ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@", ast.Is: "is", ast.IsNot: "is not",
    ast.Invert: "~", ast.UAdd: "unary +",
}
_CONSTANT_NAMES = {"true": True, "false": False, "True": True, "False": False}


def _fn_min(*args: Any) -> Any:
    import ibis

    return ibis.least(*args)


def _fn_max(*args: Any) -> Any:
    import ibis

    return ibis.greatest(*args)


def _fn_coalesce(*args: Any) -> Any:
    import ibis

    return ibis.coalesce(*args)


# name -> (implementation, minimum arguments, maximum arguments or None)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "abs": (lambda x: x.abs(), 1, 1),
    "floor": (lambda x: x.floor(), 1, 1),
    "ceil": (lambda x: x.ceil(), 1, 1),
    "round": (lambda x, d=None: x.round(d), 1, 2),
    "min": (_fn_min, 2, None),
    "max": (_fn_max, 2, None),
    "coalesce": (_fn_coalesce, 2, None),
    "is_missing": (lambda x: x.isnull(), 1, 1),
}


class ExpressionError(TiersError):
    """An expression could not be parsed or compiled; ``offset`` is the 0-based column."""

    exit_code = 2

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


def _offset(node: ast.AST) -> int | None:
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
        raise ExpressionError("expression nested too deeply", src, _offset(node))

    def bad(what: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(f"{what} is not allowed in an expression", src, _offset(node),
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
        if type(node.op) not in _BIN and not isinstance(node.op, ast.Div):
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
                                          "`locale in ['en', 'zh-CN']`", src, _offset(c))
            elif type(o) not in _CMP:
                raise bad(f"operator {_SYMBOL.get(type(o), type(o).__name__)!r}",
                          hint="compare with == != < <= > >=")
            else:
                _check(c, src, names, sub)
    elif isinstance(node, ast.Call):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        if fname not in FUNCTIONS:
            shown = fname or ast.get_source_segment(src, node.func) or "this call"
            raise ExpressionError(
                f"function {shown!r} is not allowed", src, _offset(node),
                hint=f"{did_you_mean(shown, FUNCTIONS)}allowed functions: {', '.join(FUNCTIONS)}")
        _, lo, hi = FUNCTIONS[fname]
        if node.keywords or not lo <= len(node.args) <= (hi if hi is not None else 99):
            want = f"{lo}" if lo == hi else (f"{lo} to {hi}" if hi else f"at least {lo}")
            raise ExpressionError(f"{fname}() takes {want} positional argument(s)", src,
                                  _offset(node))
        for a in node.args:
            _check(a, src, names, sub)
    elif isinstance(node, ast.Name):
        if node.id not in _CONSTANT_NAMES:
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


def compile_expression(
    src: str | Parsed,
    table: ir.Table,
    allowed: Iterable[str] | Mapping[str, str] | None = None,
    *,
    kind: Kind = "boolean",
) -> ir.Value:
    """Compile ``src`` to an Ibis expression over ``table``.

    :param allowed: the names the expression may read: an iterable of column names, or a
        mapping from the name written in the rule to the column of ``table`` it means (e.g.
        ``{"spend": "spend_year"}``); all columns of ``table`` when None.
    :param kind: ``"boolean"`` (a condition, the default), ``"number"`` or ``"any"``.
    :raises ExpressionError: with the 0-based column ``offset`` of the mistake.
    """
    parsed = src if isinstance(src, Parsed) else parse_expression(src)
    if allowed is None:
        mapping = {c: c for c in table.columns}
    elif isinstance(allowed, Mapping):
        mapping = dict(allowed)
    else:
        mapping = {c: c for c in allowed}
    check_names(parsed, mapping)
    missing = [c for c in mapping.values() if c not in table.columns]
    for name, offset in parsed.names:
        if mapping[name] in missing:
            raise ExpressionError(f"metric {name!r} is not available in this table "
                                  f"(column {mapping[name]!r})", parsed.source, offset)
    out = _Compiler(parsed.source, table, mapping).ev(parsed.tree)
    dtype = out.type()
    if kind == "boolean" and not dtype.is_boolean():
        raise ExpressionError("the expression must be a condition (true or false), not a value",
                              parsed.source, 0,
                              hint="compare it with something, e.g. `spend > 100`")
    if kind == "number" and not dtype.is_numeric():
        raise ExpressionError("the expression must give a number", parsed.source, 0)
    return out


class _Compiler:
    def __init__(self, src: str, table: ir.Table, mapping: Mapping[str, str]):
        self.src = src
        self.table = table
        self.mapping = mapping

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(message, self.src, _offset(node), hint=hint)

    def ev(self, node: ast.AST) -> Any:
        import ibis

        if isinstance(node, ast.BoolOp):
            vals = [self.boolean(v) for v in node.values]
            return ibis.and_(*vals) if isinstance(node.op, ast.And) else ibis.or_(*vals)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return ~self.boolean(node.operand)
            return -self.number(node.operand)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BinOp):
            left, right = self.number(node.left), self.number(node.right)
            if isinstance(node.op, ast.Div):
                # NULL instead of an error (Spark's ANSI mode) or infinity (DuckDB floats)
                return left / right.nullif(0)
            return _BIN[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            fn, _, _ = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
            args = [self.ev(a) for a in node.args]
            try:
                return fn(*[ibis.literal(a) if isinstance(a, (int, float)) else a
                            for a in args])
            except Exception as exc:
                raise self.fail(node, f"cannot apply {node.func.id}(): "  # type: ignore
                                      f"{_short(exc)}") from None
        if isinstance(node, ast.Name):
            if node.id in _CONSTANT_NAMES:
                return ibis.literal(_CONSTANT_NAMES[node.id])
            return self.table[self.mapping[node.id]]
        if isinstance(node, ast.Constant):
            return ibis.literal(node.value)
        raise self.fail(node, f"{type(node).__name__} is not allowed in an expression")

    def number(self, node: ast.AST) -> Any:
        value = self.ev(node)
        if not value.type().is_numeric() or value.type().is_boolean():
            raise self.fail(node, f"{_text(self.src, node)!r} is not a number "
                                  f"({value.type()})", hint="arithmetic works on numbers only")
        return value

    def boolean(self, node: ast.AST) -> Any:
        value = self.ev(node)
        if not value.type().is_boolean():
            raise self.fail(node, f"{_text(self.src, node)!r} is a value, not a condition",
                            hint="compare it with something, e.g. `spend > 100`")
        return value

    def compare(self, node: ast.Compare) -> Any:
        import ibis

        left = self.ev(node.left)
        parts = []
        prev_node: ast.AST = node.left
        for o, c in zip(node.ops, node.comparators, strict=True):
            if isinstance(o, (ast.In, ast.NotIn)):
                values = [e.value for e in c.elts]  # type: ignore[attr-defined]
                try:
                    cond = left.isin(values).fill_null(False)
                except Exception as exc:
                    raise self.fail(c, f"cannot compare with {values!r}: {_short(exc)}") from None
                parts.append(~cond if isinstance(o, ast.NotIn) else cond)
                continue
            right = self.ev(c)
            lt, rt = left.type(), right.type()
            if (lt.is_string() != rt.is_string()) or (lt.is_boolean() != rt.is_boolean()):
                raise self.fail(c, f"cannot compare {_text(self.src, prev_node)!r} ({lt}) with "
                                   f"{_text(self.src, c)!r} ({rt})",
                                hint="compare numbers with numbers and text with quoted text")
            try:
                parts.append(_CMP[type(o)](left, right))
            except Exception as exc:
                raise self.fail(c, f"cannot compare: {_short(exc)}") from None
            left, prev_node = right, c
        # two-valued logic: a comparison with a missing value is false, never NULL
        return ibis.and_(*[p.fill_null(False) for p in parts])


def _text(src: str, node: ast.AST) -> str:
    return ast.get_source_segment(src, node) or type(node).__name__


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
