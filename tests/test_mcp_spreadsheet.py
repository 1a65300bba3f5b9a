"""The spreadsheet server over stdio: sheets, ranges and SQL over XLSX and CSV, locked down."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from fixtures.mcp_support import context_for
from memento_graph.toolbox import open_toolbox

pytestmark = pytest.mark.integration  # processes: see conftest.py


async def test_sheets_ranges_and_sql(tmp_path, monkeypatch):
    files = tmp_path / "files"
    files.mkdir()
    wb = Workbook()
    sales = wb.active
    sales.title = "Sales"
    for row in [["region", "amount"], ["north", 10], ["south", 5], ["north", 7]]:
        sales.append(row)
    wb.create_sheet("Notes").append(["checked", "yes"])
    wb.save(files / "book.xlsx")
    (files / "regions.csv").write_text("region,manager\nnorth,Ada\nsouth,Bo\n")
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    monkeypatch.setenv("MEMENTO_READ_ROOTS", str(files))
    async with open_toolbox(context_for(tmp_path / "home", "spreadsheet")) as box:
        tools = {t.name: t for t in box.tools}
        book = str(files / "book.xlsx")
        assert await tools["list_sheets"].ainvoke({"path": book}) == "Sales: A1:B4\nNotes: A1:B1"
        cells = await tools["read_range"].ainvoke(
            {"path": book, "sheet": "Sales", "cells": "A2:B3"}
        )
        assert cells.splitlines() == ["| north | 10 |", "|---|---|", "| south | 5 |"]
        assert "| checked | yes |" in await tools["read_range"].ainvoke(
            {"path": book, "sheet": "Notes"}
        )
        assert "no sheet 'Nope'" in await tools["read_range"].ainvoke(
            {"path": book, "sheet": "Nope"}
        )
        query = (
            "SELECT s.region, m.manager, sum(s.amount) AS total FROM sales s "
            "JOIN managers m USING (region) GROUP BY ALL ORDER BY total DESC"
        )
        out = await tools["sql"].ainvoke(
            {
                "query": query,
                "tables": {"sales": book + "#Sales", "managers": str(files / "regions.csv")},
            }
        )
        assert out.splitlines() == [
            "| region | manager | total |",
            "|---|---|---|",
            "| north | Ada | 17 |",
            "| south | Bo | 5 |",
        ]
        escape = await tools["sql"].ainvoke(
            {"query": f"SELECT * FROM read_csv_auto('{tmp_path / 'secret.csv'}')", "tables": {}}
        )
        assert escape.startswith("Error:") and "hunter2" not in escape
        outside = await tools["sql"].ainvoke(
            {"query": "SELECT * FROM t", "tables": {"t": str(tmp_path / "secret.csv")}}
        )
        assert "outside the workspace" in outside
        bad = await tools["sql"].ainvoke({"query": "SELEC nonsense", "tables": {}})
        assert bad.startswith("Error: SQL error")
