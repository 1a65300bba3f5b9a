"""MCP server `math`: exact and symbolic arithmetic with sympy, parsed without `eval`.

Expressions are parsed with Python's `ast` and built into sympy objects node by node; only numbers,
symbols, arithmetic, comparisons and an allowlist of functions and constants are accepted.
"""

from __future__ import annotations

import anyio

from memento_graph.mcp_servers.common import new_server, serve

mcp = new_server("math")


async def _run(fn, *args):  # noqa: ANN001, ANN202
    return await anyio.to_thread.run_sync(fn, *args)


def parse(text: str):  # noqa: ANN201
    """Parse an expression (sympy is imported on first use, to start fast)."""
    from memento_graph.mcp_servers.math_parse import parse as parse_expression

    return parse_expression(text)


def parse_equation(text: str):  # noqa: ANN201
    """Parse 'lhs = rhs'."""
    from memento_graph.mcp_servers.math_parse import parse_equation as parse_eq

    return parse_eq(text)


def symbol(name: str):  # noqa: ANN201
    """Return a validated symbol."""
    from memento_graph.mcp_servers.math_parse import symbol as make_symbol

    return make_symbol(name)


@mcp.tool()
async def evaluate(expression: str, digits: int = 15) -> str:
    """Evaluate an expression exactly (fractions, roots, pi) and as a decimal, e.g. '1/3 + 2^10'."""

    def work() -> str:
        value = parse(expression)
        exact = value.doit()
        approx = exact.evalf(max(1, min(digits, 100)))
        return f"exact: {exact}\ndecimal: {approx}"

    return await _run(work)


@mcp.tool()
async def simplify(expression: str) -> str:
    """Simplify an algebraic or trigonometric expression, e.g. 'sin(x)^2 + cos(x)^2'."""
    import sympy

    return await _run(lambda: str(sympy.simplify(parse(expression))))


@mcp.tool()
async def solve(equation: str, variable: str = "") -> str:
    """Solve an equation ('x^2 = 4') or a comma-separated system ('x+y=3, x-y=1') for its variables."""
    import sympy

    def work() -> str:
        eqs = [parse_equation(part) for part in _split(equation)]
        unknowns = [symbol(v) for v in _split(variable)] or sorted(
            set().union(*(e.free_symbols for e in eqs)), key=str
        )
        return str(sympy.solve(eqs, unknowns, dict=True))

    return await _run(work)


@mcp.tool()
async def differentiate(expression: str, variable: str = "x", order: int = 1) -> str:
    """Differentiate an expression with respect to a variable, `order` times."""
    import sympy

    order = max(1, min(order, 20))
    return await _run(lambda: str(sympy.diff(parse(expression), symbol(variable), order)))


@mcp.tool()
async def integrate(expression: str, variable: str = "x", lower: str = "", upper: str = "") -> str:
    """Integrate an expression: indefinite, or definite when `lower` and `upper` are given."""
    import sympy

    def work() -> str:
        expr, var = parse(expression), symbol(variable)
        if lower and upper:
            return str(sympy.integrate(expr, (var, parse(lower), parse(upper))))
        return str(sympy.integrate(expr, var)) + " + C"

    return await _run(work)


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([") - (ch in ")]")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


if __name__ == "__main__":
    serve(mcp)
