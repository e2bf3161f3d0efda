"""Writing a dataset (columns + row iterator) as CSV or XLSX. Pure: no Django, no database.

Both writers take rows one at a time and never hold the whole dataset: CSV yields encoded chunks for a
streaming response; XLSX goes through openpyxl's write-only mode into a file (each row is serialised as it
is appended). Text goes through ``safe_cell`` (formula injection); numbers, dates and times stay typed.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import IO, Any, NamedTuple

from .cells import safe_cell

TEXT = "text"
INT = "int"
MONEY = "money"
PCT = "pct"  # a percentage held as its number of percent (12.5 = 12.5 %)
RATIO = "ratio"
FLOAT = "float"
DATETIME = "datetime"
DATE = "date"

#: Number formats of the XLSX cells that need one. Integers are left in "General" (an account ID is not
#: "12,345"), and dates and times get openpyxl's ISO formats by themselves: every styled cell costs openpyxl a
#: new cell object, so only money and fractions carry one.
XLSX_NUMBER_FORMATS = {
    MONEY: "#,##0.00;[Red]-#,##0.00",
    PCT: "0.00",
    RATIO: "0.00",
    FLOAT: "0.000",
}
XLSX_WIDTHS = {TEXT: 24, INT: 10, MONEY: 14, PCT: 10, RATIO: 9, FLOAT: 9, DATETIME: 17, DATE: 11}
CSV_CHUNK_ROWS = 500

# XML 1.0 forbids these control characters; openpyxl refuses them rather than writing a broken file.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Column:
    """One column of an export: its header and what kind of value it holds (which decides the cell format)."""

    label: str
    kind: str = TEXT
    width: int | None = None
    number_format: str | None = None  # XLSX format, when the kind's default does not fit


class Dataset(NamedTuple):
    """What a dataset function returns: ``(columns, rows)``, the rows an iterator of tuples, one value per column."""

    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]


def as_text(value: Any) -> str:
    """Any value as a safe text cell (for headers and text columns)."""
    if value is None:
        return ""
    return safe_cell(value if isinstance(value, str) else str(value))


def header_label(column: Column, tz: tzinfo) -> str:
    """The column's header; date-times name their time zone, as spreadsheets keep none."""
    if column.kind == DATETIME:
        return f"{column.label} ({getattr(tz, 'key', None) or tz})"
    return column.label


def _csv_value(value: Any, tz: tzinfo) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Decimal)):
        return value  # str(Decimal) keeps its places: "-1234.50", never exponent form for money
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return as_text(value)


class _Line:
    """A file-like target for ``csv.writer`` that hands back what it is given (no buffer kept)."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, tz: tzinfo) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so Excel reads it as UTF-8), yielded a few hundred rows at a time.

    Datetimes are written in ``tz`` as ``YYYY-MM-DD HH:MM:SS`` (the header names the zone).
    """
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield ("\ufeff" + writer.writerow([as_text(header_label(c, tz)) for c in columns])).encode()
    batch: list[str] = []
    for row in rows:
        batch.append(writer.writerow([_csv_value(v, tz) for v in row]))
        if len(batch) >= CSV_CHUNK_ROWS:
            yield "".join(batch).encode()
            batch.clear()
    if batch:
        yield "".join(batch).encode()


def _xlsx_value(value: Any, kind: str, tz: tzinfo) -> Any:
    if value is None:
        return None
    if kind == TEXT or isinstance(value, str):
        return _XML_ILLEGAL.sub("", as_text(value))
    if isinstance(value, datetime):
        # Excel has no time zones: local wall time in ``tz`` (the header says which).
        return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value
    return value


def xlsx_write(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, target: IO[bytes], tz: tzinfo, title: str
) -> int:
    """Write one sheet (bold, frozen header row with a filter; typed, formatted cells) to ``target``.

    Returns the number of data rows. Money is written as a number with two places (``Decimal`` is numeric to
    openpyxl), dates and times as real dates. Memory stays flat: openpyxl's write-only mode serialises each row
    as it is appended.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for index, column in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width or XLSX_WIDTHS[column.kind]
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=as_text(header_label(column, tz)))
        cell.font = bold
        header.append(cell)
    sheet.append(header)

    # One styled cell per formatted column, reused row after row: openpyxl writes each row as it is appended,
    # and building a styled cell per value would cost more than the rest of the row.
    templates: list[Any] = []
    for column in columns:
        fmt = column.number_format or XLSX_NUMBER_FORMATS.get(column.kind)
        if fmt is None:
            templates.append(None)
        else:
            cell = WriteOnlyCell(sheet)
            cell.number_format = fmt
            templates.append(cell)
    kinds = [c.kind for c in columns]

    count = 0
    for row in rows:
        out: list[Any] = []
        for value, kind, template in zip(row, kinds, templates, strict=True):
            value = _xlsx_value(value, kind, tz)
            if template is None or value is None or isinstance(value, str):
                out.append(value)
            else:
                template.value = value
                out.append(template)
        sheet.append(out)
        count += 1
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    book.save(target)
    return count
