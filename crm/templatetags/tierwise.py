"""Formatting shared by every page: money in the configured currency, percentages, tier badges."""

from decimal import Decimal, InvalidOperation

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
def signed_class(value) -> str:  # type: ignore[no-untyped-def]
    """CSS class for a figure: ``neg`` below zero, ``pos`` above."""
    number = _decimal(value)
    if number is None or number == 0:
        return ""
    return "neg" if number < 0 else "pos"


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
    """A moment in the display time zone, short: "17 Feb 11:01" this year, "17 Feb 2025 11:01" before."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return date_format(local, "j M H:i" if local.year == timezone.localdate().year else "j M Y H:i")
