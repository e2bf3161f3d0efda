"""Template helpers of the campaigns pages."""

from django import template

from crm.templatetags.tierwise import tier_badge

from ..earning import reason_without_money

register = template.Library()


@register.simple_tag
def account_tier(account) -> str:  # type: ignore[no-untyped-def]
    """The account's tier badge, 'No tier' when it has no snapshot yet (prefetch ``snapshot__tier``)."""
    snapshot = getattr(account, "snapshot", None) if account is not None else None
    try:
        return tier_badge(snapshot.tier if snapshot is not None else None)
    except Exception:  # noqa: BLE001  (a missing snapshot row raises RelatedObjectDoesNotExist)
        return tier_badge(None)


@register.filter
def ledger_reason(reason: str, show_money: bool) -> str:
    """A ledger entry's reason as the viewer may read it (service staff: without the revenue amount)."""
    return reason if show_money else reason_without_money(reason)
