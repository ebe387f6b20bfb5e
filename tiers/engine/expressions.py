"""Compile a checked rule expression (:mod:`tiers.core.expressions`) to an Ibis expression."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from tiers.core.expressions import (
    ARITHMETIC,
    COMPARISONS,
    CONSTANT_NAMES,
    ExpressionError,
    Parsed,
    check_names,
    offset_of,
    parse_expression,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

Kind = Literal["boolean", "number", "any"]


def _fn_min(*args: Any) -> Any:
    import ibis

    return ibis.least(*args)


def _fn_max(*args: Any) -> Any:
    import ibis

    return ibis.greatest(*args)


def _fn_coalesce(*args: Any) -> Any:
    import ibis

    return ibis.coalesce(*args)


# name -> implementation; names and arities are checked in tiers.core.expressions
IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "abs": lambda x: x.abs(),
    "floor": lambda x: x.floor(),
    "ceil": lambda x: x.ceil(),
    "round": lambda x, d=None: x.round(d),
    "min": _fn_min,
    "max": _fn_max,
    "coalesce": _fn_coalesce,
    "is_missing": lambda x: x.isnull(),
}


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
        return ExpressionError(message, self.src, offset_of(node), hint=hint)

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
            return ARITHMETIC[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            fn = IMPLEMENTATIONS[node.func.id]  # type: ignore[attr-defined]
            args = [self.ev(a) for a in node.args]
            try:
                return fn(*[ibis.literal(a) if isinstance(a, (int, float)) else a
                            for a in args])
            except Exception as exc:
                raise self.fail(node, f"cannot apply {node.func.id}(): "  # type: ignore
                                      f"{_short(exc)}") from None
        if isinstance(node, ast.Name):
            if node.id in CONSTANT_NAMES:
                return ibis.literal(CONSTANT_NAMES[node.id])
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
                parts.append(COMPARISONS[type(o)](left, right))
            except Exception as exc:
                raise self.fail(c, f"cannot compare: {_short(exc)}") from None
            left, prev_node = right, c
        # two-valued logic: a comparison with a missing value is false, never NULL
        return ibis.and_(*[p.fill_null(False) for p in parts])


def _text(src: str, node: ast.AST) -> str:
    return ast.get_source_segment(src, node) or type(node).__name__


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
