"""Accounts and their contacts entered and corrected by hand (the account page and the account form).

Forms validate the input; these functions write it, after a full model validation. Changing what the
profitability engine reads of an account (status, churn date, relationship, acquisition channel and date:
the CLV model, CAC and ranking depend on them) marks its history changed, so its figures are recomputed
once the transaction commits, like a change of its interactions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from ..models import TIERWISE_SOURCE, Account, Channel, Contact
from .history import account_history_touch

#: Account fields the per-account recompute reads: a change asks for fresh figures.
FIGURE_FIELDS = ("status", "churned_on", "relationship", "acquisition_channel_id", "acquired_on")


@transaction.atomic
def account_create(
    *,
    name: str,
    owner: Any | None,
    industry: str = "",
    country: str = "",
    region: str = "",
    employee_band: str = "",
    segment: str = "",
    acquisition_channel: Channel | None = None,
    acquired_on: date | None = None,
    status: str = Account.Status.ACTIVE,
    churned_on: date | None = None,
    relationship: str = Account.Relationship.REPEAT,
    web_domain: str = "",
    tax_id: str = "",
    phone: str = "",
) -> Account:
    """Create an account owned by ``owner`` (the account manager responsible; None leaves it unassigned)."""
    account = Account(
        name=name, owner=owner, industry=industry, country=country.upper(), region=region,
        employee_band=employee_band, segment=segment, acquisition_channel=acquisition_channel,
        acquired_on=acquired_on, status=status, churned_on=churned_on, relationship=relationship,
        web_domain=web_domain, tax_id=tax_id, phone=phone,
    )
    account.full_clean()
    account.save()
    # Its first snapshot (zeros, the lowest tier's service level) comes from a recompute like any other; the
    # stale sweep only sees accounts past version 0.
    account_history_touch(account_ids=[account.pk])
    return account


#: What :func:`account_update` may change (never ``history_version`` or the timestamps).
ACCOUNT_EDITABLE = frozenset({
    "name", "owner", "industry", "country", "region", "employee_band", "segment", "acquisition_channel",
    "acquired_on", "status", "churned_on", "relationship", "web_domain", "tax_id", "phone",
})


@transaction.atomic
def account_update(*, account: Account, **changes: Any) -> Account:
    """Change the account's own fields (``ACCOUNT_EDITABLE``); a change the figures depend on requests a
    recompute on commit. Only the fields given are written, so a concurrent history bump is never undone."""
    unknown = set(changes) - ACCOUNT_EDITABLE
    if unknown:
        raise TypeError(f"account_update() cannot change {', '.join(sorted(unknown))}")
    before = {name: getattr(account, name) for name in FIGURE_FIELDS}
    for name, value in changes.items():
        setattr(account, name, value.upper() if name == "country" and value else value)
    account.full_clean()
    account.save(update_fields=sorted({*changes, "updated_at"}))
    if any(getattr(account, name) != value for name, value in before.items()):
        account_history_touch(account_ids=[account.pk])
    return account


@transaction.atomic
def contact_create(*, account: Account, name: str, role: str = "", email: str = "", phone: str = "") -> Contact:
    """Add a contact person to ``account``, entered in Tierwise (source system ``tierwise``)."""
    contact = Contact(account=account, name=name, role=role, email=email, phone=phone,
                      source_system=TIERWISE_SOURCE)
    contact.full_clean()
    contact.save()
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, name: str, role: str = "", email: str = "", phone: str = "") -> Contact:
    """Correct a contact's details. It stays on its account and keeps its source keys."""
    contact.name, contact.role, contact.email, contact.phone = name, role, email, phone
    contact.full_clean()
    contact.save(update_fields=["name", "role", "email", "phone"])
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Remove a contact. Its cases and survey answers stay, without a contact (``SET_NULL``)."""
    contact.delete()
