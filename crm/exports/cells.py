"""Making values safe to open in a spreadsheet (OWASP ASVS 1.2.10: CSV / formula injection)."""

from typing import Any

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Google Sheets (tab, CR and LF
# because spreadsheets strip leading whitespace before deciding; NUL because some parsers stop at it).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would run as a formula; then quoted with ``'``.

    Numbers (int, Decimal, float) are left alone, so a negative profit stays a number, not text. Only the
    start of the text matters: ``"Smith & Sons - EU"`` is left as it is, ``"-EU"`` becomes ``"'-EU"``.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
