"""The math server over stdio: exact and symbolic arithmetic, and inputs it must refuse."""

from __future__ import annotations

import pytest

from fixtures.mcp_support import context_for
from memento_graph.mcp_servers.common import ToolError
from memento_graph.mcp_servers.math_parse import parse
from memento_graph.toolbox import open_toolbox

pytestmark = pytest.mark.integration  # processes: see conftest.py


async def test_math_tools_over_stdio(tmp_path):
    async with open_toolbox(context_for(tmp_path, "math")) as box:
        assert box.servers["math"] == "ready"
        call = {t.name: t for t in box.tools}
        out = await call["evaluate"].ainvoke({"expression": "1/3 + 2^10"})
        assert "exact: 3073/3" in out and "1024.33333" in out
        assert "exact: 3/10" in await call["evaluate"].ainvoke({"expression": "0.1 + 0.2"})
        assert "exact: sqrt(2)" in await call["evaluate"].ainvoke({"expression": "sqrt(8)/2"})
        assert await call["simplify"].ainvoke({"expression": "sin(x)^2 + cos(x)^2"}) == "1"
        assert await call["solve"].ainvoke({"equation": "x^2 = 4"}) == "[{x: -2}, {x: 2}]"
        assert await call["solve"].ainvoke({"equation": "x + y = 3, x - y = 1"}) == "[{x: 2, y: 1}]"
        assert await call["differentiate"].ainvoke({"expression": "x^3"}) == "3*x**2"
        assert (
            await call["integrate"].ainvoke({"expression": "x^2", "lower": "0", "upper": "3"})
            == "9"
        )
        assert (
            await call["integrate"].ainvoke({"expression": "cos(t)", "variable": "t"})
            == "sin(t) + C"
        )
        refused = await call["evaluate"].ainvoke({"expression": "__import__('os').system('id')"})
        assert refused.startswith("Error:") and "unsupported syntax" in refused


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("x.__class__", "unsupported syntax"),
        ("(lambda: 1)()", "unsupported syntax"),
        ("9^9^9", "exponent too large"),
        ("(10^1000)^1000", "result too large"),
        ("factorial(10^6)", "factorial argument too large"),
        ("open('x')", "unknown function: open"),
        ("'text'", "unsupported constant"),
        ("", "empty expression"),
    ],
)
def test_parser_refuses(expression, message):
    with pytest.raises(ToolError, match=message):
        parse(expression)
