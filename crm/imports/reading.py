"""Reading CSV and XLSX files as a stream of records: format detection and row iteration, bounded memory.

CSV goes through the ``csv`` module over a text stream; XLSX through openpyxl's ``read_only`` mode, which
parses the sheet's XML incrementally. Nothing here holds more than one row (plus a detection sample).
"""

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .errors import ImportFileError

SAMPLE_BYTES = 64 * 1024
SAMPLE_ROWS = 200
DELIMITERS = (",", ";", "\t", "|")
ENCODINGS = ("utf-8-sig", "utf-8", "cp1252", "latin-1")
#: Key under which :func:`iter_records` puts the text of cells beyond the header's width (a ragged row).
OVERFLOW = "\x00overflow"
# Quoted fields may hold long notes; the csv module's default 128 KiB limit would abort the file instead.
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True)
class FileFormat:
    """How a file is read. ``encoding``/``delimiter`` are meaningless for XLSX (cells are typed)."""

    encoding: str = "utf-8"
    delimiter: str = ","
    decimal_separator: str = "."  # "." or ","
    date_order: str = "dmy"  # "ymd" | "dmy" | "mdy" — how 01/02/2025 is read (ISO dates are always read)
    is_xlsx: bool = False
    headers: list[str] = field(default_factory=list)
    sheet: str = ""  # XLSX: the worksheet read (the first one unless chosen)

    def as_options(self) -> dict[str, str]:
        """The choices to remember with a mapping (and to pass back as ``overrides``)."""
        options = {"decimal_separator": self.decimal_separator, "date_order": self.date_order}
        if not self.is_xlsx:
            options |= {"encoding": self.encoding, "delimiter": self.delimiter}
        return options


def is_xlsx_name(original_name: str) -> bool:
    return original_name.lower().endswith((".xlsx", ".xlsm"))


def detect_format(path: str | Path, original_name: str, overrides: dict | None = None) -> FileFormat:
    """Look at the start of the file and decide how to read it; ``overrides`` (the user's choices) win.

    Override keys: ``encoding``, ``delimiter``, ``decimal_separator``, ``date_order``, ``sheet``; empty values
    are ignored (they mean "detect"). Raises :class:`ImportFileError` when the file is neither CSV nor XLSX.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if head.startswith(b"PK\x03\x04"):  # a zip: an XLSX workbook, whatever its name says
        return _detect_xlsx(path, overrides)
    if is_xlsx_name(original_name):
        raise ImportFileError("Not a CSV or XLSX file: it has an .xlsx name but is not an Excel workbook.")
    if head.startswith((b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\x1f\x8b")) or b"\x00" in head[:4096]:
        hint = " (an old .xls workbook: save it as .xlsx or CSV)" if head.startswith(b"\xd0\xcf\x11\xe0") else ""
        raise ImportFileError(f"Not a CSV or XLSX file{hint}.")
    return _detect_csv(head, overrides)


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError("Not a CSV or XLSX file: UTF-16 text is not supported; save it as UTF-8 CSV.")
    try:
        # A multi-byte character may be cut at the sample's end: decode up to the last complete one.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")  # Windows' Latin-1 superset (has €); five byte values are undefined in it
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _sample_text(head: bytes, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    if len(head) == SAMPLE_BYTES and "\n" in text:
        text = text[: text.rindex("\n")]  # drop the cut-off last line
    return text


def _sample_rows(text: str, delimiter: str) -> list[list[str]]:
    try:
        return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in row)][
            :SAMPLE_ROWS
        ]
    except csv.Error:
        return []


def _detect_delimiter(text: str) -> str:
    """The delimiter that splits the sample into the most columns, consistently from row to row."""
    best, best_score = ",", (-1.0, 0)
    for delimiter in DELIMITERS:
        rows = _sample_rows(text, delimiter)
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(1 for row in rows if len(row) == width) / len(rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


_COMMA_DECIMAL = re.compile(r"^[-+(]?[€$£]?\s?\d{1,3}(?:[.\s\u00a0]\d{3})*,\d{1,4}\)?(?:\s?[€$£A-Z]{1,3})?$")
_DOT_DECIMAL = re.compile(r"^[-+(]?[€$£]?\s?\d{1,3}(?:[,\s\u00a0]\d{3})*\.\d{1,4}\)?(?:\s?[€$£A-Z]{1,3})?$")
_PLAIN_DOT = re.compile(r"^-?\d+\.\d{1,4}$")
_SLASH_DATE = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-]\d{2,4}\b")
_DOT_DATE = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{2,4}\b")


def _detect_numbers_and_dates(rows: list[list[str]], delimiter: str) -> tuple[str, str]:
    comma = dot = 0
    day_first = month_first = dotted = 0
    for row in rows[1:]:
        for cell in row:
            value = cell.strip()
            if not value or len(value) > 40:
                continue
            if _COMMA_DECIMAL.match(value):
                comma += 1
            elif _DOT_DECIMAL.match(value) or _PLAIN_DOT.match(value):
                dot += 1
            if m := _SLASH_DATE.match(value):
                first, second = int(m[1]), int(m[2])
                day_first += first > 12
                month_first += second > 12
            elif _DOT_DATE.match(value):
                dotted += 1
    if comma != dot:
        decimal = "," if comma > dot else "."
    else:
        decimal = "," if delimiter == ";" else "."
    if month_first > day_first:
        order = "mdy"
    else:
        order = "dmy"  # European exports (and dd.mm.yyyy) unless the file proves month-first
    return decimal, order


def _unique_headers(cells: list[str]) -> list[str]:
    """Header names made usable as keys: blanks named by position, repeats numbered."""
    headers: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells, start=1):
        name = " ".join(str(cell or "").split()) or f"Column {position}"
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate, n = f"{name} ({n})", n + 1
        seen.add(candidate.lower())
        headers.append(candidate)
    return headers


def _detect_csv(head: bytes, overrides: dict) -> FileFormat:
    encoding = overrides.get("encoding") or _detect_encoding(head)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportFileError(f"Unknown encoding '{encoding}'.") from None
    text = _sample_text(head, encoding)
    if not text.strip():
        raise ImportFileError("The file is empty: it needs a header row and at least one data row.")
    delimiter = overrides.get("delimiter") or _detect_delimiter(text)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ImportFileError(f"'{delimiter}' cannot be a delimiter: choose a single character such as ; or ,")
    rows = _sample_rows(text, delimiter)
    if not rows:
        raise ImportFileError("Not a CSV or XLSX file: no rows could be read (check the delimiter and quotes).")
    decimal, order = _detect_numbers_and_dates(rows, delimiter)
    fmt = FileFormat(encoding=encoding, delimiter=delimiter, decimal_separator=decimal, date_order=order,
                     headers=_unique_headers(rows[0]))
    return _apply_overrides(fmt, overrides)


def _apply_overrides(fmt: FileFormat, overrides: dict) -> FileFormat:
    decimal = overrides.get("decimal_separator", fmt.decimal_separator)
    order = overrides.get("date_order", fmt.date_order)
    if decimal not in (".", ","):
        raise ImportFileError(f"The decimal separator must be '.' or ',' (got '{decimal}').")
    if order not in ("ymd", "dmy", "mdy"):
        raise ImportFileError(f"The date order must be ymd, dmy or mdy (got '{order}').")
    return replace(fmt, decimal_separator=decimal, date_order=order)


def _open_workbook(path: Path) -> Any:
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as error:
        raise ImportFileError(f"Not a CSV or XLSX file: the workbook cannot be opened ({error}).") from None
    except Exception as error:  # openpyxl raises assorted errors on damaged XML
        raise ImportFileError(f"Not a CSV or XLSX file: the workbook cannot be read ({error}).") from None


def _worksheet(workbook: Any, sheet: str) -> Any:
    if sheet:
        if sheet not in workbook.sheetnames:
            raise ImportFileError(f"The workbook has no sheet '{sheet}' (it has: {', '.join(workbook.sheetnames)}).")
        return workbook[sheet]
    if not workbook.sheetnames:
        raise ImportFileError("The workbook has no sheets.")
    return workbook[workbook.sheetnames[0]]


def _detect_xlsx(path: Path, overrides: dict) -> FileFormat:
    workbook = _open_workbook(path)
    try:
        sheet = _worksheet(workbook, overrides.get("sheet", ""))
        rows: list[list[str]] = []
        try:
            for values in sheet.iter_rows(values_only=True):
                cells = [cell_text(v) for v in values]
                if any(cells):
                    rows.append(cells)
                if len(rows) >= SAMPLE_ROWS:
                    break
        except Exception as error:
            raise ImportFileError(f"The workbook cannot be read ({error}).") from None
        if not rows:
            raise ImportFileError("The sheet is empty: it needs a header row and at least one data row.")
        decimal, order = _detect_numbers_and_dates(rows, ",")
        fmt = FileFormat(encoding="", delimiter="", decimal_separator=decimal, date_order=order, is_xlsx=True,
                         headers=_unique_headers(rows[0]), sheet=sheet.title)
    finally:
        workbook.close()
    return _apply_overrides(fmt, overrides)


def cell_text(value: Any) -> str:
    """An XLSX cell's value as the text a CSV export would have (dates in ISO, numbers without float noise)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def iter_records(path: str | Path, fmt: FileFormat) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {header: text})`` for each data row after the header, in file order.

    ``line`` is the row number a spreadsheet shows (the header is line 1). Blank rows are skipped. Missing
    trailing cells read as ``""``; cells beyond the header's width are joined under :data:`OVERFLOW` so the
    validator can reject the row. Text decoding never fails: undecodable bytes become U+FFFD (the validator
    rejects such rows, naming the encoding).
    """
    headers = fmt.headers
    for line, cells in iter_rows(path, fmt):
        yield line, record_of(headers, cells)


def iter_rows(path: str | Path, fmt: FileFormat) -> Iterator[tuple[int, list[str]]]:
    """Like :func:`iter_records`, but each row as its list of cells as read (any length): cheaper for the
    import run, which turns a row into a record (:func:`record_of`) only when it has to report it."""
    if fmt.is_xlsx:
        return _data_rows(_xlsx_cells(Path(path), fmt))
    return _data_rows(_csv_cells(Path(path), fmt))


def record_of(headers: list[str], cells: list[str]) -> dict[str, str]:
    """A row's cells by header: missing trailing cells are ``""``, extra non-blank ones go under OVERFLOW."""
    width = len(headers)
    record = dict(zip(headers, cells, strict=False))
    if len(cells) < width:
        for name in headers[len(cells):]:
            record[name] = ""
    elif len(cells) > width:
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            record[OVERFLOW] = " | ".join(extra)
    return record


def _data_rows(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of the rows after the header (the first non-blank row); blank rows are skipped."""
    header_seen = False
    for line, cells in enumerate(rows, start=1):
        # A non-blank first cell settles it without joining the row (the common case, a million times).
        first = cells[0] if cells else ""
        if (not first or first.isspace()) and not "".join(cells).strip():
            continue
        if not header_seen:
            header_seen = True
            continue
        yield line, cells


def _csv_cells(path: Path, fmt: FileFormat) -> Iterator[list[str]]:
    with open(path, encoding=fmt.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter, strict=False)
        yield from _tolerant(reader)


def _tolerant(reader: Any) -> Iterator[list[str]]:
    """The csv reader's rows; a row it cannot parse (a NUL byte, say) becomes a one-cell row of marker text."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield [f"\x00csv error: {error}"]
            continue
        yield row


def _xlsx_cells(path: Path, fmt: FileFormat) -> Iterator[list[str]]:
    workbook = _open_workbook(path)
    try:
        sheet = _worksheet(workbook, fmt.sheet)
        for values in sheet.iter_rows(values_only=True):
            yield [cell_text(v) for v in values]
    finally:
        workbook.close()


def estimate_rows(path: str | Path, fmt: FileFormat) -> int:
    """Data rows in the file, cheaply: line breaks for CSV (an upper bound if notes span lines), the sheet's
    recorded dimension for XLSX (0 when the workbook doesn't record it)."""
    path = Path(path)
    if fmt.is_xlsx:
        workbook = _open_workbook(path)
        try:
            return max((_worksheet(workbook, fmt.sheet).max_row or 1) - 1, 0)
        except Exception:
            return 0
        finally:
            workbook.close()
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def count_rows(path: str | Path, fmt: FileFormat) -> int:
    """Data rows exactly as :func:`iter_records` will yield them (a full pass; used to enforce the row limit)."""
    return sum(1 for _ in iter_rows(path, fmt))
