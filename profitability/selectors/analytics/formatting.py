"""How KPI values and chart axes are shown, and CSV downloads that are safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from crm.templatetags.tierwise import money, ratio

from ... import analytics as math

# --- formatting ---------------------------------------------------------------------------------------------------


def format_kpi(unit: str, value: Decimal | float | None) -> str:
    """A KPI value as the page shows it: money with the currency, % with one place, ratios with two (rounded
    down, see ``tierwise.ratio``)."""
    if value is None:
        return "—"
    if unit == math.MONEY:
        return money(value)
    if unit == math.PCT:
        return f"{Decimal(value):,.1f} %"
    if unit == math.RATIO:
        return ratio(value)  # rounded down, like every CLV/CAC: never "3.00" next to "Below 3"
    return f"{Decimal(value):+,.0f}".replace("-", "−")


def axis_formatter(unit: str):  # type: ignore[no-untyped-def]
    if unit == math.MONEY:
        return lambda v: money(v)
    if unit == math.PCT:
        return lambda v: f"{v:,.0f} %"
    if unit == math.RATIO:
        return lambda v: f"{v:,.1f}"
    return lambda v: f"{v:+,.0f}"


def month_label(month: date) -> str:
    return month.strftime("%b %Y")


# --- CSV ------------------------------------------------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")


def csv_cell(value: Any) -> Any:
    """A cell safe to open in a spreadsheet (OWASP): text starting with = + - @, a tab, CR, LF or NUL gets a
    leading apostrophe so it is shown, not evaluated. Numbers (Decimal, int, float) stay numbers — a
    negative amount is a number, not a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, Decimal)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])
