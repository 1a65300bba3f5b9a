"""The documents server over stdio on files made by the test: PDF, DOCX, XLSX, CSV, HTML, JSON."""

from __future__ import annotations

import json

import pytest
from docx import Document
from fpdf import FPDF
from openpyxl import Workbook

from fixtures.mcp_support import context_for
from memento_graph.toolbox import open_toolbox

pytestmark = pytest.mark.integration  # processes: see conftest.py


def make_files(folder):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Quarterly report: revenue grew by 17 percent.")
    pdf.output(str(folder / "report.pdf"))
    doc = Document()
    doc.add_heading("Meeting minutes", level=1)
    doc.add_paragraph("The committee approved the lighthouse budget.")
    doc.save(folder / "minutes.docx")
    wb = Workbook()
    wb.active.title = "Prices"
    wb.active.append(["item", "price"])
    wb.active.append(["walnut", 4.5])
    wb.save(folder / "prices.xlsx")
    (folder / "table.csv").write_text("city,population\nOslo,709000\n")
    (folder / "page.html").write_text(
        "<html><body><h2>Harbour</h2><p>Ferries leave hourly.</p></body></html>"
    )
    (folder / "data.json").write_text(json.dumps({"answer": "forty-two"}))
    (folder / "long.txt").write_text("".join(f"line {i:04d}\n" for i in range(2000)))


async def test_documents_to_markdown_paged(tmp_path, monkeypatch):
    files = tmp_path / "files"
    files.mkdir()
    make_files(files)
    monkeypatch.setenv("MEMENTO_READ_ROOTS", str(files))
    async with open_toolbox(context_for(tmp_path / "home", "documents")) as box:
        read = box.find("documents", "read_document")
        expected = {
            "report.pdf": "revenue grew by 17 percent",
            "minutes.docx": "# Meeting minutes",
            "prices.xlsx": "| walnut | 4.5 |",
            "table.csv": "| Oslo | 709000 |",
            "page.html": "Ferries leave hourly.",
            "data.json": "forty-two",
        }
        for name, text in expected.items():
            out = await read.ainvoke({"path": str(files / name)})
            assert text in out, (name, out)
        first = await read.ainvoke({"path": str(files / "long.txt"), "limit": 100})
        assert first.startswith("[characters 0-100 of 20000; next offset=100]")
        assert len(first.split("\n", 1)[1]) == 100
        last = await read.ainvoke({"path": str(files / "long.txt"), "offset": 19990, "limit": 100})
        assert last.startswith("[characters 19990-20000 of 20000; end of document]")
        assert "line 1999" in last
        hits = await box.find("documents", "search_document").ainvoke(
            {"path": str(files / "long.txt"), "query": "LINE 1234", "context": 5}
        )
        assert "[offset 12340]" in hits
        denied = await read.ainvoke({"path": "/etc/passwd"})
        assert denied.startswith("Error:") and "outside the workspace" in denied
        missing = await read.ainvoke({"path": str(files / "nope.pdf")})
        assert "no such file" in missing


async def test_task_files_allowed_at_run_time(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMENTO_READ_ROOTS", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "task.txt").write_text("the input of the task")
    (elsewhere / "sibling.txt").write_text("not given")
    async with open_toolbox(context_for(tmp_path / "home", "documents")) as box:
        read = box.find("documents", "read_document")
        assert "outside the workspace" in await read.ainvoke({"path": str(elsewhere / "task.txt")})
        box.allow([str(elsewhere / "task.txt")])
        assert "the input of the task" in await read.ainvoke({"path": str(elsewhere / "task.txt")})
        assert "outside the workspace" in await read.ainvoke(
            {"path": str(elsewhere / "sibling.txt")}
        )
