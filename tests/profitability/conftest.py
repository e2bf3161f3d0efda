"""Named accounts that make tests read like the domain (DOMAIN.md's catnip example)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm.models import InteractionKind as K
from tests.factories import AccountFactory, InteractionFactory

NOW = datetime(2026, 1, 1, tzinfo=UTC)
START = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)


def log(account, kind, count, *, amount="0", cost="0", channel="web", every_days=1, start=START):
    for i in range(count):
        InteractionFactory(account=account, kind=kind, channel=channel, amount=Decimal(amount),
                           direct_cost=Decimal(cost), occurred_at=start + timedelta(days=i * every_days, hours=i % 7))


@pytest.fixture
def patricia(db):
    """A quiet bulk buyer: 12 orders of 5,000 (COGS 3,000) over two years and a single support call."""
    account = AccountFactory(name="Patricia Bulk Supplies")
    log(account, K.ORDER, 12, amount="5000", cost="3000", channel="edi", every_days=60)
    log(account, K.SUPPORT_CALL, 1, channel="phone")
    return account


@pytest.fixture
def patrick(db):
    """A loyal small buyer: 150 tiny orders, 80 returns, 100 support calls and 40 emails."""
    account = AccountFactory(name="Patrick Small Parts")
    log(account, K.ORDER, 150, amount="60", cost="36", every_days=4)
    log(account, K.RETURN, 80, amount="40", cost="20", every_days=7)
    log(account, K.SUPPORT_CALL, 100, channel="phone", every_days=6)
    log(account, K.SUPPORT_EMAIL, 40, channel="email", every_days=15)
    return account
