"""Formatting shared by every page: money in the configured currency, percentages, tier badges."""

from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def currency_symbol() -> str:
    """How money is written everywhere: "€" for EUR, the code and a space for a currency without a symbol."""
    return SYMBOLS.get(settings.TIERWISE_CURRENCY, settings.TIERWISE_CURRENCY + " ")


def _decimal(value) -> Decimal | None:  # type: ignore[no-untyped-def]
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def money(value, places: int = 0) -> str:  # type: ignore[no-untyped-def]
    """``-1234.5`` → ``−€1,235`` (two places with ``|money:2``); an em dash when there is no figure."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    symbol = currency_symbol()
    text = f"{abs(amount):,.{int(places)}f}"
    return f"−{symbol}{text}" if amount < 0 else f"{symbol}{text}"


@register.filter
def pct(value, places: int = 0) -> str:  # type: ignore[no-untyped-def]
    number = _decimal(value)
    if number is None:
        return "—"
    return f"{number:,.{int(places)}f} %"


@register.filter
def ratio(value) -> str:  # type: ignore[no-untyped-def]
    """A ratio such as CLV/CAC with two places, rounded down: 2.999 shows as 2.99, never as 3.00 next to a
    "below 3" flag (a figure shown never reaches a threshold the value itself has not reached)."""
    number = _decimal(value)
    if number is None:
        return "—"
    shown = number.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    return f"{shown if shown else abs(shown):,.2f}".replace("-", "−")


@register.filter
def signed_class(value) -> str:  # type: ignore[no-untyped-def]
    """CSS class for a figure: ``neg`` below zero, ``pos`` above."""
    number = _decimal(value)
    if number is None or number == 0:
        return ""
    return "neg" if number < 0 else "pos"


@register.filter
def cost_class(value) -> str:  # type: ignore[no-untyped-def]
    """CSS class for a change in a cost: an increase is bad news (``neg``), a decrease good news (``pos``)."""
    number = _decimal(value)
    if number is None or number == 0:
        return ""
    return "neg" if number > 0 else "pos"


@register.filter
def each(total, count) -> str:  # type: ignore[no-untyped-def]
    """What one of ``count`` things costs when they cost ``total`` together, as money: "€250" (whole amounts
    without cents, "€247.37" otherwise). Drivers read "Visits: 95 × €250 = €23,750"."""
    amount, n = _decimal(total), _decimal(count)
    if amount is None or not n:
        return "—"
    unit = (amount / n).quantize(Decimal("0.01"))
    return money(unit, 0 if unit == unit.to_integral_value() else 2)


@register.simple_tag
def tier_badge(tier) -> str:  # type: ignore[no-untyped-def]
    """A coloured tier badge; 'No tier' for unranked accounts (prospects, churned, not yet computed)."""
    if tier is None:
        return mark_safe('<span class="badge tier-none">No tier</span>')  # noqa: S308 (a constant)
    return format_html(
        '<span class="badge tier" style="--tier-color: {}">{}</span>', tier.color, tier.name
    )


@register.filter
def when(value) -> str:  # type: ignore[no-untyped-def]
    """A moment in the display time zone, short: "17 Feb 11:01" this year, "17 Feb 2025 11:01" in
    any other (a past or a future one). Every page showing a case's dates uses it."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return date_format(local, "j M H:i" if local.year == timezone.localdate().year else "j M Y H:i")


@register.filter
def day(value) -> str:  # type: ignore[no-untyped-def]
    """A calendar date as the pages write it: "1 Jun 2026"."""
    if value is None:
        return "—"
    return date_format(value, "j M Y")


@register.filter
def moment(value) -> str:  # type: ignore[no-untyped-def]
    """A moment with its year, in the display time zone, as audit and history pages show it: "14 Oct 2026, 09:00"."""
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), "j M Y, H:i")
