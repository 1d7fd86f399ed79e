"""Safe evaluation of readable rule expressions over a customer table.

Analysts write rules such as ``brand == 'mzone' and sms_p2p > 0`` or
``brand in ['mzone', 'gotone'] and not term_fetion``. The expression is parsed with
:mod:`ast` and only comparisons, ``and`` / ``or`` / ``not`` (also ``&``, ``|``, ``~``),
arithmetic, ``in`` / ``not in`` lists of literals, column names and literals are
allowed; anything else (calls, attributes, subscripts, lambdas, ``@`` variables) is
rejected before evaluation. Columns are looked up in the table and nowhere else.
"""
from __future__ import annotations

import ast
import operator

import numpy as np
import pandas as pd

from dmkit.errors import parameter_error

__all__ = ["check_expression", "evaluate"]

_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
        ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
_LITERALS = {"True": True, "False": False}


def _fail(where: str, expr: str, why: str) -> Exception:
    return parameter_error(where, expected="a rule expression over the customer columns, e.g. "
                           "\"brand == 'mzone' and sms_p2p > 0\"", found=expr, fix=why)


def _parse(expr: object, where: str) -> ast.Expression:
    if not isinstance(expr, str) or not expr.strip():
        raise _fail(where, str(expr), "write the rule as a non-empty string")
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError as err:
        raise _fail(where, expr, f"syntax error at column {err.offset}: {err.msg}") from err


def _names(node: ast.AST, expr: str, where: str) -> set[str]:
    """Column names used; raises on any node type that is not allowed."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            if sub.id not in _LITERALS:
                names.add(sub.id)
        elif isinstance(sub, ast.Constant):
            if not isinstance(sub.value, (int, float, str, bool)):
                raise _fail(where, expr, f"literal {sub.value!r} is not allowed")
        elif isinstance(sub, (ast.List, ast.Tuple, ast.Set)):
            if not all(isinstance(e, ast.Constant) for e in sub.elts):
                raise _fail(where, expr, "lists may hold literals only, e.g. brand in ['mzone', 'gotone']")
        elif not isinstance(sub, (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not,
                                  ast.USub, ast.UAdd, ast.Invert, ast.Compare, ast.BinOp, ast.Load,
                                  ast.In, ast.NotIn, *_CMP, *_BIN)):
            raise _fail(where, expr, f"{type(sub).__name__} is not allowed (use comparisons, and/or/not, "
                        "arithmetic and lists of literals only)")
    return names


def check_expression(expr: object, columns: object, *, where: str) -> set[str]:
    """Parse ``expr`` and check it names only ``columns``; return the names used.

    Raises
    ------
    ParameterError
        Naming ``where`` (e.g. the rule) for a syntax error, a forbidden construct or an
        unknown column.
    """
    tree = _parse(expr, where)
    names = _names(tree, str(expr), where)
    cols = set(columns)
    unknown = sorted(names - cols)
    if unknown:
        raise parameter_error(where, expected=f"columns of the customer table, e.g. {sorted(cols)[:12]}",
                              found=expr, fix=f"unknown column {unknown[0]!r}; add it to the table "
                              "or correct the rule")
    return names


def evaluate(expr: str, df: pd.DataFrame, *, where: str) -> np.ndarray:
    """Evaluate a checked expression on ``df``; return a bool array (missing → False)."""
    check_expression(expr, df.columns, where=where)
    tree = _parse(expr, where)

    def ev(node: ast.AST):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Name):
            if node.id in _LITERALS:
                return _LITERALS[node.id]
            s = df[node.id]
            if isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype(object)
            return s.to_numpy()
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return [e.value for e in node.elts]
        if isinstance(node, ast.BoolOp):
            vals = [_as_bool(ev(v)) for v in node.values]
            out = vals[0]
            for v in vals[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, (ast.Not, ast.Invert)):
                return ~_as_bool(v)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, (ast.BitAnd, ast.BitOr)):
                a, b = _as_bool(a), _as_bool(b)
            return _BIN[type(node.op)](a, b)
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            out = None
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp)
                if isinstance(op, (ast.In, ast.NotIn)):
                    if not isinstance(right, list):
                        raise _fail(where, expr, "'in' needs a list of literals on its right")
                    r = pd.Series(np.asarray(left, dtype=object)).isin(right).to_numpy() \
                        if np.ndim(left) else np.asarray(left in right)
                    r = ~r if isinstance(op, ast.NotIn) else r
                else:
                    r = _CMP[type(op)](left, right)
                r = _as_bool(r)
                out = r if out is None else out & r
                left = right
            return out
        raise _fail(where, expr, f"{type(node).__name__} is not allowed")  # pragma: no cover

    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            res = ev(tree)
    except TypeError as err:
        raise _fail(where, expr, f"the expression does not fit the column types ({err})") from err
    res = np.broadcast_to(_as_bool(res), (len(df),))
    return np.array(res, dtype=bool)


def _as_bool(v) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype == object:
        return pd.array(a, dtype="boolean").fillna(False).to_numpy(dtype=bool)
    return a.astype(bool)
