"""MCP server `spreadsheet`: list sheets, read cell ranges, and run SQL over CSV/XLSX/Parquet with DuckDB.

SQL runs on tables this server loads itself (from allowed paths), with DuckDB's external access
switched off, so a query cannot read other files or reach the network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio

from memento_graph.mcp_servers.common import (
    ToolError,
    clip,
    new_server,
    read_roots,
    safe_path,
    serve,
)

mcp = new_server("spreadsheet")
MAX_ROWS = 500
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _file(path: str) -> Path:
    target = safe_path(path, read_roots())
    if not target.is_file():
        raise ToolError(f"no such file: {path}")
    return target


def _frame(path: Path, sheet: str = "") -> Any:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        return pd.read_excel(path, sheet_name=sheet or 0)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in {".csv", ".tsv", ".txt"}:
        return pd.read_csv(path, sep=None, engine="python")
    raise ToolError(f"unsupported spreadsheet type: {suffix or path.name}")


@mcp.tool()
async def list_sheets(path: str) -> str:
    """List the sheets of a workbook (with their used ranges), or the columns of a CSV/Parquet file."""

    def work() -> str:
        target = _file(path)
        if target.suffix.lower() in {".xlsx", ".xlsm"}:
            from openpyxl import load_workbook

            wb = load_workbook(target, read_only=True, data_only=True)
            return "\n".join(f"{ws.title}: {ws.calculate_dimension()}" for ws in wb.worksheets)
        frame = _frame(target)
        return f"(single table) {len(frame)} rows; columns: {', '.join(map(str, frame.columns))}"

    return await anyio.to_thread.run_sync(work)


@mcp.tool()
async def read_range(path: str, sheet: str = "", cells: str = "", max_rows: int = 100) -> str:
    """Read cells of a sheet as a markdown table: `cells` like 'A1:D20' (empty: the used range)."""

    def work() -> str:
        target = _file(path)
        rows_cap = max(1, min(max_rows, MAX_ROWS))
        if target.suffix.lower() not in {".xlsx", ".xlsm"}:
            return _markdown(_frame(target).head(rows_cap))
        from openpyxl import load_workbook

        wb = load_workbook(target, read_only=False, data_only=True)
        if sheet and sheet not in wb.sheetnames:
            raise ToolError(f"no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        try:
            block = ws[cells] if cells else tuple(ws.iter_rows(max_row=rows_cap))
        except ValueError as exc:
            raise ToolError(f"bad cell range {cells!r}: {exc}") from None
        if not isinstance(block, tuple):  # a single cell
            block = ((block,),)
        elif block and not isinstance(block[0], tuple):  # a single row or column
            block = (block,)
        rows = [[c.value for c in row] for row in block[:rows_cap]]
        return _table(rows)

    return await anyio.to_thread.run_sync(work)


@mcp.tool()
async def sql(query: str, tables: dict[str, str]) -> str:
    """Run a read-only SQL query (DuckDB dialect) over files loaded as tables.

    `tables` maps a table name to a file path (CSV, TSV, XLSX, Parquet); 'file.xlsx#Sheet' picks a sheet.
    Example: sql("SELECT region, sum(amount) FROM sales GROUP BY 1", {"sales": "sales.csv"}).
    """

    def work() -> str:
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            for name, spec in tables.items():
                if not _TABLE.match(name):
                    raise ToolError(f"invalid table name: {name!r}")
                file, _, sheet = spec.partition("#")
                con.register(name, _frame(_file(file), sheet))
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            try:
                cursor = con.execute(query)
                columns = [d[0] for d in cursor.description or []]
                rows = cursor.fetchmany(MAX_ROWS + 1)
            except duckdb.Error as exc:
                raise ToolError(f"SQL error: {str(exc).splitlines()[0]}") from None
        finally:
            con.close()
        note = f"\n[more than {MAX_ROWS} rows; showing {MAX_ROWS}]" if len(rows) > MAX_ROWS else ""
        return _table([columns, *[list(r) for r in rows[:MAX_ROWS]]]) + note

    return await anyio.to_thread.run_sync(work)


def _markdown(frame: Any) -> str:
    rows = [list(map(str, frame.columns))] + frame.astype(object).values.tolist()
    return _table(rows)


def _table(rows: list[list[Any]]) -> str:
    if not rows:
        return "(no cells)"
    cells = [["" if v is None else str(v).replace("|", "\\|") for v in row] for row in rows]
    head, body = cells[0], cells[1:]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return clip("\n".join(lines), 40_000)


if __name__ == "__main__":
    serve(mcp)
