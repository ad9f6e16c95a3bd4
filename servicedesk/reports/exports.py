"""A report as CSV, XLSX or a JSON-ready dict."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from .registry import Params, Report, Result, Table


def as_json(report: Report, params: Params, result: Result) -> dict[str, Any]:
    return {
        "slug": report.slug,
        "title": report.title,
        "description": report.description,
        "params": params.as_dict(),
        "generated_at": params.now.isoformat(),
        "summary": result.summary,
        "tables": [table.as_dict() for table in result.tables],
    }


# A text starting with these is a formula to a spreadsheet (CSV and XLSX alike).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """Names come from users (group, service, technology names): never let a
    spreadsheet evaluate one."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> Any:
    """A flat cell: references by name, booleans as yes/no, None as empty."""
    if isinstance(value, dict) and "name" in value:
        return _text(str(value["name"]))
    if isinstance(value, str):
        return _text(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _write_table(writer: Any, table: Table) -> None:
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([_cell(row.get(c.key)) for c in table.columns])


def as_csv(result: Result, table: str | None = None) -> str:
    """One table as plain CSV; without ``table``, every table as a titled section."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if table is not None:
        _write_table(writer, result.table(table))
        return buffer.getvalue()
    for index, item in enumerate(result.tables):
        if index:
            writer.writerow([])
        writer.writerow([f"# {item.title}"])
        _write_table(writer, item)
    return buffer.getvalue()


def as_xlsx(report: Report, params: Params, result: Result) -> bytes:
    """One sheet per table, and a sheet with the report's parameters."""
    book = Workbook()
    first = True
    bold = Font(bold=True)
    for table in result.tables:
        sheet = book.active if first else book.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = table.title[:31]
        sheet.append([c.label for c in table.columns])
        for cell in sheet[1]:
            cell.font = bold
        for row in table.rows:
            sheet.append([_cell(row.get(c.key)) for c in table.columns])
        for index, column in enumerate(table.columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = max(12, min(40, len(column.label) + 4))
            if column.kind == "percent":
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = "0.0%"
    about = book.create_sheet("Parameters")
    about.append(["Report", report.title])
    about.append(["Generated", params.now.isoformat()])
    for key, value in params.as_dict().items():
        about.append([key, ", ".join(map(str, value)) if isinstance(value, list) else value])
    for key, value in result.summary.items():
        about.append([key, value])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
