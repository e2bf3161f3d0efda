"""Logging touchpoints by hand — interactions and survey answers entered on an account's page — and
correcting or removing them.

The history-version bump and the recompute request are not done here: saving an :class:`Interaction`
through the ORM fires the hooks in :mod:`crm.signals`, which bump ``Account.history_version`` in the same
transaction and notify the engines once it commits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    TIERWISE_SOURCE,
    ZERO,
    Account,
    Contact,
    Interaction,
    InteractionChannel,
    InteractionKind,
    Product,
    SurveyResponse,
    new_external_id,
)

CENT = Decimal("0.01")

#: Kinds whose ``amount`` is money (revenue, refund, cash received); every other kind carries none.
AMOUNT_KINDS = frozenset(
    {InteractionKind.ORDER, InteractionKind.RENEWAL, InteractionKind.RETURN, InteractionKind.PAYMENT}
)
#: Kinds whose ``direct_cost`` counts (COGS of orders and renewals, stock back from returns).
DIRECT_COST_KINDS = frozenset({InteractionKind.ORDER, InteractionKind.RENEWAL, InteractionKind.RETURN})
#: Kinds that move goods: they name a product and a quantity.
GOODS_KINDS = frozenset({InteractionKind.ORDER, InteractionKind.RETURN})


def interaction_value_errors(
    *, kind: str, amount: Decimal | None, direct_cost: Decimal | None, product: Any, quantity: int | None
) -> dict[str, str]:
    """What the money conventions of ``Interaction`` say is wrong with these values, by field — the rules
    the page form and the API both apply. Pure: ``product`` is anything not None when a product is given."""
    errors: dict[str, str] = {}
    label = InteractionKind(kind).label.lower()
    if kind in AMOUNT_KINDS:
        if amount is None:
            errors["amount"] = f"Enter the amount of the {label}."
    elif amount:
        errors["amount"] = f"A {label} carries no amount: its cost comes from the activity cost rates."
    if kind not in DIRECT_COST_KINDS and direct_cost:
        errors["direct_cost"] = f"A {label} has no direct cost: its cost comes from the activity cost rates."
    if kind in GOODS_KINDS:
        if product is None:
            errors["product"] = f"Choose the product of the {label}."
        if quantity is None:
            errors["quantity"] = f"Enter the quantity of the {label}."
        elif quantity == 0:
            errors["quantity"] = f"The quantity of the {label} must be at least 1."
    return errors


@transaction.atomic
def interaction_log(
    *,
    account: Account,
    logged_by: Any,
    kind: str,
    occurred_at: datetime,
    channel: str = InteractionChannel.OTHER,
    amount: Decimal | None = None,
    direct_cost: Decimal | None = None,
    product: Product | None = None,
    quantity: int | None = None,
    note: str = "",
) -> Interaction:
    """Record one touchpoint with ``account``, entered in Tierwise by ``logged_by``.

    Money is in the configured currency, rounded to cents. When an order or return gives no direct cost,
    it is the product's unit cost × quantity (the cost of goods sold, or of the goods back in stock).
    """
    if direct_cost is None and kind in DIRECT_COST_KINDS and product is not None and quantity is not None:
        direct_cost = product.unit_cost * quantity
    interaction = Interaction(
        account=account,
        kind=kind,
        channel=channel,
        occurred_at=occurred_at,
        amount=(amount if amount is not None else ZERO).quantize(CENT),
        direct_cost=(direct_cost if direct_cost is not None else ZERO).quantize(CENT),
        product=product,
        quantity=quantity,
        note=note,
        logged_by=logged_by,
        source_system=TIERWISE_SOURCE,
    )
    interaction.full_clean()
    interaction.save()
    return interaction


@transaction.atomic
def survey_log(
    *,
    account: Account,
    logged_by: Any,
    score: int,
    answered_at: datetime,
    comment: str = "",
    contact: Contact | None = None,
    channel: str = InteractionChannel.OTHER,
) -> SurveyResponse:
    """Record an NPS answer (0–10) and the ``survey`` interaction that makes it count as a touch.

    Both rows share one external id, so the timeline entry and the answer can be matched.
    """
    if contact is not None and contact.account_id != account.pk:
        raise ValueError("The contact belongs to another account.")
    external_id = new_external_id()
    response = SurveyResponse(
        account=account, contact=contact, score=score, comment=comment, answered_at=answered_at,
        source_system=TIERWISE_SOURCE, external_id=external_id,
    )
    response.full_clean()
    response.save()
    note = f"NPS {score}/10" + (f" — {comment}" if comment else "")
    if contact is not None:
        note += f" ({contact.name})"
    interaction = Interaction(
        account=account, kind=InteractionKind.SURVEY, channel=channel, occurred_at=answered_at, note=note,
        logged_by=logged_by, source_system=TIERWISE_SOURCE, external_id=external_id,
    )
    interaction.full_clean()
    interaction.save()
    response.interaction = interaction  # for the caller's response (not a field)
    return response


#: Kinds whose interaction is the touch of another record — an NPS answer (``survey``) or a service case
#: (``complaint``) — sharing its external id: they are changed with that record, not on their own here.
RECORD_TOUCH_KINDS = frozenset({InteractionKind.SURVEY, InteractionKind.COMPLAINT})


class InteractionNotEditable(Exception):
    """The interaction is the touch of another record (see :data:`RECORD_TOUCH_KINDS`)."""


def interaction_assert_editable(interaction: Interaction) -> None:
    """Raise :class:`InteractionNotEditable` when the row is the touch of another record."""
    if interaction.kind in RECORD_TOUCH_KINDS:
        label = InteractionKind(interaction.kind).label.lower()
        record = "NPS answer" if interaction.kind == InteractionKind.SURVEY else "service case"
        raise InteractionNotEditable(f"A {label} is recorded with its {record}: it is not changed on its own.")


@transaction.atomic
def interaction_update(
    *,
    interaction: Interaction,
    kind: str,
    occurred_at: datetime,
    channel: str = InteractionChannel.OTHER,
    amount: Decimal | None = None,
    direct_cost: Decimal | None = None,
    product: Product | None = None,
    quantity: int | None = None,
    note: str = "",
) -> Interaction:
    """Correct a touchpoint: its values are replaced as if it were logged again with these ones.

    The row keeps its account, who logged it and its source keys (an imported row stays matched to its
    source). Saving through the ORM fires :mod:`crm.signals`, which bumps the account's history version in
    this transaction and requests the recompute once it commits.
    """
    interaction_assert_editable(interaction)
    if kind in RECORD_TOUCH_KINDS:
        raise ValidationError({"kind": f"A {InteractionKind(kind).label.lower()} is recorded with its own form."})
    if direct_cost is None and kind in DIRECT_COST_KINDS and product is not None and quantity is not None:
        direct_cost = product.unit_cost * quantity
    interaction.kind = kind
    interaction.channel = channel
    interaction.occurred_at = occurred_at
    interaction.amount = (amount if amount is not None else ZERO).quantize(CENT)
    interaction.direct_cost = (direct_cost if direct_cost is not None else ZERO).quantize(CENT)
    interaction.product = product
    interaction.quantity = quantity
    interaction.note = note
    interaction.full_clean()
    interaction.save()
    return interaction


@transaction.atomic
def interaction_delete(*, interaction: Interaction) -> None:
    """Remove a touchpoint. The delete signal bumps the account's history version in this transaction and
    requests the recompute once it commits."""
    interaction_assert_editable(interaction)
    interaction.delete()
