"""Checking one record of a file against a kind's fields: typed values or every reason it is rejected.

Pure Python, no ORM — lookups that need the database (does this account exist?) happen set-based in the
loaders. A record with any error is rejected whole, with every failing field named.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache, partial
from operator import itemgetter
from typing import Any

from . import parsing
from .errors import ImportFileError
from .fields import CHOICE, COUNTRY, DATE, DATETIME, DECIMAL, EMAIL, FIELDS, INT, MONTH, TEXT, FieldSpec
from .reading import OVERFLOW, FileFormat, record_of

#: The "field" a whole-row problem (ragged row, unparseable line) is reported under.
ROW = "(row)"

Parser = Callable[[str], Any]


def check_columns(kind: str, columns: dict[str, str], headers: list[str]) -> None:
    """Raise :class:`ImportFileError` unless every required field is mapped to a column that is in the file."""
    specs = {spec.name: spec for spec in FIELDS[kind]}
    for field_name, header in columns.items():
        if field_name not in specs:
            raise ImportFileError(f"'{field_name}' is not a field of a {kind.replace('_', ' ')} import.")
        if header and header not in headers:
            raise ImportFileError(
                f"The column '{header}' mapped to {field_name} is not in the file "
                f"(its columns are: {', '.join(headers[:30])})."
            )
    missing = [spec.label for spec in specs.values() if spec.required and not columns.get(spec.name)]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ImportFileError(f"Map a column to each required field: {', '.join(missing)} {verb} not mapped.")


def _text(spec: FieldSpec, raw: str) -> str:
    if "\x00" in raw:
        raise ValueError("contains a NUL character")
    if spec.max_length is not None and len(raw) > spec.max_length:
        raise ValueError(f"too long: {len(raw)} characters (at most {spec.max_length})")
    return raw


def _bounded_int(spec: FieldSpec, decimal_separator: str, raw: str) -> int:
    value = parsing.parse_int(raw, decimal_separator)
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"must be at least {spec.minimum} (got {value})")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"must be at most {spec.maximum} (got {value})")
    return value


def _email(spec: FieldSpec, raw: str) -> str:
    return _text(spec, parsing.parse_email(raw))


def field_parser(spec: FieldSpec, fmt: FileFormat, default_tz: tzinfo = UTC) -> Parser:
    """The function turning one non-blank cell of ``spec`` into its value (raising ``ValueError``)."""
    if spec.type == DECIMAL:
        return partial(parsing.parse_money, decimal_separator=fmt.decimal_separator, minimum=spec.minimum)
    if spec.type == INT:
        return partial(_bounded_int, spec, fmt.decimal_separator)
    if spec.type == DATE:
        return partial(parsing.parse_date, date_order=fmt.date_order)
    if spec.type == DATETIME:
        return partial(parsing.parse_datetime, date_order=fmt.date_order, default_tz=default_tz)
    if spec.type == MONTH:
        return partial(parsing.parse_month, date_order=fmt.date_order)
    if spec.type == CHOICE:
        return partial(parsing.parse_choice, table=parsing.choice_lookup(spec.choices, spec.synonyms),
                       choices=spec.choices)
    if spec.type == EMAIL:
        return partial(_email, spec)
    if spec.type == COUNTRY:
        return parsing.parse_country
    return partial(_text, spec)


Outcome = Callable[[str], tuple[Any, str | None]]
CACHED_TYPES = frozenset({DATE, DATETIME, MONTH, CHOICE, COUNTRY})
CACHE_SIZE = 50_000


def _outcome(parse: Parser, cached: bool) -> Outcome:
    """``parse`` as a function returning ``(value, None)`` or ``(None, reason)``; memoised for the types whose
    cells repeat a lot (dates, choices) — a million-row export has a few thousand distinct dates."""

    def outcome(raw: str) -> tuple[Any, str | None]:
        try:
            return parse(raw), None
        except ValueError as error:
            return None, str(error) or "invalid value"

    return lru_cache(maxsize=CACHE_SIZE)(outcome) if cached else outcome


@dataclass(frozen=True)
class _Column:
    """How :meth:`RowValidator.validate_rows` checks one mapped field, column-wise."""

    name: str
    index: int | None  # the column's position in a row (None: the header is not in the file)
    required: bool
    default: str | None
    parse: Parser | None  # None for plain text, which needs only the length check
    max_length: int | None


class RowValidator:
    """Validates the records of one file for one kind with one mapping (``columns``: field → header).

    :meth:`validate` returns ``(values, errors)``: ``values`` has every mapped field (``None`` for a blank
    cell, the choice's default for a blank choice); ``errors`` maps field names (or :data:`ROW`) to reasons.
    """

    def __init__(self, kind: str, columns: dict[str, str], fmt: FileFormat, default_tz: tzinfo = UTC) -> None:
        self.kind = kind
        self.columns = {name: header for name, header in columns.items() if header}
        self.fmt = fmt
        self.check_encoding = not fmt.is_xlsx
        specs = {spec.name: spec for spec in FIELDS[kind]}
        self.plan: list[tuple[str, str, bool, str | None, Outcome]] = [
            (name, header, specs[name].required, specs[name].default or None,
             _outcome(field_parser(specs[name], fmt, default_tz), specs[name].type in CACHED_TYPES))
            # in the file's column order, so a row's reasons read left to right
            for name, header in sorted(self.columns.items(), key=lambda item: _position(fmt.headers, item[1]))
        ]
        self.batch_plan: list[_Column] = []
        for name, header, required, default, _ in self.plan:
            spec = specs[name]
            parse: Parser | None = None
            if spec.type != TEXT:
                parse = field_parser(spec, fmt, default_tz)
                if spec.type in CACHED_TYPES:
                    parse = lru_cache(maxsize=CACHE_SIZE)(parse)  # a raised ValueError is not cached
            index = fmt.headers.index(header) if header in fmt.headers else None
            self.batch_plan.append(_Column(name, index, required, default, parse, spec.max_length))

    def validate(self, record: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        overflow = record.get(OVERFLOW)
        if overflow is not None:
            errors[ROW] = f"the row has more cells than the header has columns (extra: {overflow[:80]})"
        for name, header, required, default, parse in self.plan:
            raw = record.get(header, "").strip()
            if not raw:
                if required:
                    errors[name] = "required"
                values[name] = default
                continue
            if raw.startswith("\x00csv error"):
                errors[ROW] = f"the line cannot be read as CSV ({raw[12:].strip()})"
                continue
            if self.check_encoding and "\ufffd" in raw:
                errors[name] = (f"unreadable characters: the file is not valid {self.fmt.encoding} text "
                                "— choose its encoding")
                continue
            value, error = parse(raw)
            if error is None:
                values[name] = value
            else:
                errors[name] = error
        if not errors:
            self._check_row(values, errors)
        return values, errors

    def validate_rows(self, rows: list[tuple[int, list[str]]]
                      ) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, dict[str, str]]]]:
        """Validate a batch of ``(line, cells)`` rows (as :func:`~crm.imports.reading.iter_rows` yields them):
        ``(valid, rejected)`` — ``(line, values)`` and ``(line, errors)``, each in line order, exactly what
        :meth:`validate` gives row by row.

        It works column by column: a column's cells are stripped and parsed in one pass, and whole-column
        scans (blank, too long, NUL or undecodable characters) replace per-cell checks. A row with anything
        wrong — or not the header's width — goes through :meth:`validate` for its reasons, so the messages
        come from one place. A million well-formed rows cost a few seconds instead of a per-cell loop's tens.
        """
        width = len(self.fmt.headers)
        lines: list[int] = []
        plain: list[list[str]] = []  # rows of exactly the header's width
        odd: list[tuple[int, list[str]]] = []
        for line, cells in rows:
            count = len(cells)
            if count == width:
                plain.append(cells)
            elif count < width:
                plain.append(cells + [""] * (width - count))  # as record_of pads them
            elif "".join(cells[width:]).strip():
                odd.append((line, cells))  # extra non-blank cells: rejected, with the reason validate gives
                continue
            else:
                plain.append(cells[:width])
            lines.append(line)
        bad: set[int] = set()
        values = [self._column(column, plain, bad) for column in self.batch_plan]
        names = [column.name for column in self.batch_plan]
        if "status" in names:  # the rule across fields (see _check_row): let validate name it
            status = values[names.index("status")]
            churned_on = values[names.index("churned_on")] if "churned_on" in names else [None] * len(plain)
            bad.update(k for k, (s, c) in enumerate(zip(status, churned_on, strict=True))
                       if s == "churned" and c is None)
        rows_values = zip(lines, zip(*values, strict=True) if values else [()] * len(lines), strict=True)
        if not bad:
            valid = [(line, dict(zip(names, row, strict=True))) for line, row in rows_values]
        else:
            valid = [(line, dict(zip(names, row, strict=True))) for k, (line, row) in enumerate(rows_values)
                     if k not in bad]
            odd.extend((lines[k], plain[k]) for k in bad)
        rejected: list[tuple[int, dict[str, str]]] = []
        if odd:
            late = []
            headers = self.fmt.headers
            for line, cells in odd:
                row_values, errors = self.validate(record_of(headers, cells))
                if errors:
                    rejected.append((line, errors))
                else:  # pragma: no cover - every row sent here has a problem validate finds
                    late.append((line, row_values))
            rejected.sort(key=itemgetter(0))
            if late:  # pragma: no cover
                valid = sorted([*valid, *late], key=itemgetter(0))
        return valid, rejected

    def _column(self, column: _Column, rows: list[list[str]], bad: set[int]) -> list[Any]:
        """The column's values (its default where blank); adds the rows whose cell is wrong to ``bad``."""
        if column.index is None:
            cells = [""] * len(rows)
        else:
            cells = list(map(str.strip, map(itemgetter(column.index), rows)))
        joined = "".join(cells)
        if "\x00" in joined or (self.check_encoding and "\ufffd" in joined):
            marks = ("\x00", "\ufffd") if self.check_encoding else ("\x00",)
            bad.update(k for k, cell in enumerate(cells) if any(mark in cell for mark in marks))
        blank = "" in cells
        if blank and column.required:
            bad.update(k for k, cell in enumerate(cells) if not cell)
        default, parse = column.default, column.parse
        if parse is None:  # text: only too long can be wrong
            if column.max_length is not None and cells and max(map(len, cells)) > column.max_length:
                bad.update(k for k, cell in enumerate(cells) if len(cell) > column.max_length)
            return [cell or default for cell in cells] if blank else cells
        try:
            return [parse(cell) if cell else default for cell in cells] if blank else list(map(parse, cells))
        except ValueError:
            pass
        parsed: list[Any] = []
        for k, cell in enumerate(cells):
            if not cell:
                parsed.append(default)
                continue
            try:
                parsed.append(parse(cell))
            except ValueError:
                parsed.append(None)
                bad.add(k)
        return parsed

    def _check_row(self, values: dict[str, Any], errors: dict[str, str]) -> None:
        """Rules across fields (the model's check constraints), so the database never refuses a batch."""
        if values.get("status") == "churned" and values.get("churned_on") is None:
            errors["churned_on" if "churned_on" in self.columns else "status"] = (
                "a churned account needs a churn date" + ("" if "churned_on" in self.columns
                                                         else " (map a churn date column)"))


def _position(headers: list[str], header: str) -> int:
    return headers.index(header) if header in headers else len(headers)


def display(value: Any) -> str:
    """A validated value as the preview shows it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | Decimal):
        return str(value)
    return str(value)


def reject_field_label(columns: dict[str, str], field_name: str, kind: str) -> str:
    """The name a user recognises for a failing field: its column in the file, else the Tierwise label."""
    if field_name == ROW:
        return ROW
    if columns.get(field_name):
        return columns[field_name]
    for spec in FIELDS[kind]:
        if spec.name == field_name:
            return spec.label
    return field_name
