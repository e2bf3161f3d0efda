"""Suggesting which column of a file fills which Tierwise field. Pure functions, no ORM."""

import re

from .fields import FIELDS


def _normal(header: str) -> str:
    return " ".join(re.sub(r"[_\-./#:()]+", " ", header.lower()).split())


def suggest_columns(kind: str, headers: list[str], remembered: dict | None = None) -> dict[str, str]:
    """``{field name: header}`` for the fields a column can be found for.

    The remembered mapping of the source system wins where its header is still in the file; then a header
    equal to the field's name or label; then the field's aliases in their order of preference. A header is
    used for one field at most, and fields are served in their listed order (required ones first come first).
    """
    specs = FIELDS[kind]
    by_normal: dict[str, str] = {}
    for header in headers:
        by_normal.setdefault(_normal(header), header)
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for field_name, header in (remembered or {}).items():
        if header in headers and header not in used and any(s.name == field_name for s in specs):
            chosen[field_name] = header
            used.add(header)

    def take(spec_name: str, spellings: list[str]) -> None:
        for spelling in spellings:
            header = by_normal.get(_normal(spelling))
            if header is not None and header not in used:
                chosen[spec_name] = header
                used.add(header)
                return

    # Two passes: exact names and labels first, so a generic alias ("id", "date") can't steal a column
    # another field names exactly.
    for spec in specs:
        if spec.name not in chosen:
            take(spec.name, [spec.name, spec.label])
    for spec in specs:
        if spec.name not in chosen:
            take(spec.name, list(spec.aliases))
    return chosen
