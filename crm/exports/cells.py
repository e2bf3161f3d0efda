"""Making values safe to open in a spreadsheet (OWASP ASVS 1.2.10: CSV / formula injection)."""

from typing import Any

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Google Sheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would run as a formula; then quoted with ``'``.

    Numbers (int, Decimal, float) are left alone, so a negative profit stays a number, not text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
