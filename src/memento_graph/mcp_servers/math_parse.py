"""Parse a math expression into sympy objects through `ast`, never `eval`.

Numbers become exact (0.1 is 1/10), `^` means power, names are symbols unless they name an allowed
function or constant. Sizes are bounded so a tool call cannot hang the server on a power tower.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

import sympy

from memento_graph.mcp_servers.common import ToolError

MAX_LENGTH = 2_000
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 10_000
MAX_DIGITS = 100_000
FUNCTIONS = {
    name: getattr(sympy, name)
    for name in """sqrt cbrt root exp log ln sin cos tan cot sec csc asin acos atan atan2 sinh cosh
    tanh asinh acosh atanh Abs floor ceiling factorial binomial gcd lcm Min Max sign re im conjugate
    arg gamma erf isprime prime factorint Rational Integer Sum Product limit Matrix det mod""".split()
    if hasattr(sympy, name)
}
FUNCTIONS |= {
    "abs": sympy.Abs,
    "ln": sympy.log,
    "min": sympy.Min,
    "max": sympy.Max,
    "mod": sympy.Mod,
}
CONSTANTS = {
    "pi": sympy.pi,
    "e": sympy.E,
    "E": sympy.E,
    "I": sympy.I,
    "i": sympy.I,
    "oo": sympy.oo,
    "inf": sympy.oo,
    "infinity": sympy.oo,
}
BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: sympy.Mod,
    ast.FloorDiv: lambda a, b: sympy.floor(a / b),
}
COMPARE = {
    ast.Eq: sympy.Eq,
    ast.NotEq: sympy.Ne,
    ast.Lt: sympy.Lt,
    ast.LtE: sympy.Le,
    ast.Gt: sympy.Gt,
    ast.GtE: sympy.Ge,
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def symbol(name: str) -> sympy.Symbol:
    """Return the symbol called `name` (a plain identifier)."""
    if not _NAME.match(name or "") or name.startswith("_"):
        raise ToolError(f"invalid variable name: {name!r}")
    return sympy.Symbol(name)


def parse(text: str) -> Any:
    """Parse an expression (or comparison) into a sympy object."""
    text = (text or "").strip()
    if not text:
        raise ToolError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ToolError(f"expression too long ({len(text)} characters; limit {MAX_LENGTH})")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"cannot parse {text!r}: {exc.msg}") from None
    return _build(tree.body)


def parse_equation(text: str) -> Any:
    """Parse 'lhs = rhs' (or an expression meaning expression = 0)."""
    if re.search(r"(?<![=<>!])=(?!=)", text):
        lhs, rhs = re.split(r"(?<![=<>!])=(?!=)", text, maxsplit=1)
        return sympy.Eq(parse(lhs), parse(rhs))
    return parse(text)


def _build(node: ast.AST) -> Any:  # noqa: PLR0911
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float | complex):
            raise ToolError(f"unsupported constant: {node.value!r}")
        if isinstance(node.value, float):
            return sympy.Rational(repr(node.value))
        return sympy.sympify(node.value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        return symbol(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _build(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _build(node.left), _build(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
            return sympy.Pow(left, right)
        if type(node.op) in BINARY:
            return BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE:
        return COMPARE[type(node.ops[0])](_build(node.left), _build(node.comparators[0]))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        func = FUNCTIONS.get(node.func.id)
        if func is None:
            raise ToolError(f"unknown function: {node.func.id}")
        args = [_build(a) for a in node.args]
        if func is sympy.factorial and args and args[0].is_number and abs(args[0]) > MAX_FACTORIAL:
            raise ToolError(f"factorial argument too large (limit {MAX_FACTORIAL})")
        return func(*args)
    if isinstance(node, ast.Tuple | ast.List):
        return sympy.Tuple(*[_build(e) for e in node.elts])
    raise ToolError(f"unsupported syntax: {ast.unparse(node)!r}")


def _check_power(base: Any, exponent: Any) -> None:
    if not (exponent.is_number and exponent.is_real):
        return
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"exponent too large (limit {MAX_EXPONENT})")
    if base.is_number and base.is_real and abs(base) > 1:
        digits = float(abs(exponent)) * float(sympy.log(abs(base), 10).evalf(5))
        if digits > MAX_DIGITS:
            raise ToolError(f"result too large (about {digits:.3g} digits; limit {MAX_DIGITS})")
