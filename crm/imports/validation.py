"""Checking one record of a file against a kind's fields: typed values or every reason it is rejected.

Pure Python, no ORM — lookups that need the database (does this account exist?) happen set-based in the
loaders. A record with any error is rejected whole, with every failing field named.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

from . import parsing
from .errors import ImportFileError
from .fields import CHOICE, COUNTRY, DATE, DATETIME, DECIMAL, EMAIL, FIELDS, INT, MONTH, FieldSpec
from .reading import OVERFLOW, FileFormat

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


def _outcome(parse: Parser, cached: bool) -> Outcome:
    """``parse`` as a function returning ``(value, None)`` or ``(None, reason)``; memoised for the types whose
    cells repeat a lot (dates, choices) — a million-row export has a few thousand distinct dates."""

    def outcome(raw: str) -> tuple[Any, str | None]:
        try:
            return parse(raw), None
        except ValueError as error:
            return None, str(error) or "invalid value"

    return lru_cache(maxsize=50_000)(outcome) if cached else outcome


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
