"""Duplicate pairs that read like the data a CRM pulls from finance, sales and service systems."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.models import AccountSourceId
from tests.factories import AccountFactory

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def acme_pair(db):  # type: ignore[no-untyped-def]
    """ACME as the ERP knows it (tax id, domain) and as the sales CRM knows it (a web address, a phone)."""
    erp = AccountFactory(name="ACME Industrial Supplies GmbH", web_domain="acme-industrial.de", tax_id="DE 811 569 869",
                         phone="+49 30 1234567", country="DE")
    AccountSourceId.objects.create(account=erp, source_system="erp", external_id="K-1001")
    sales = AccountFactory(name="Acme Industrial Supply", web_domain="https://www.acme-industrial.de/kontakt",
                           tax_id="", phone="030 1234567", country="DE", industry="Wholesale & retail")
    AccountSourceId.objects.create(account=sales, source_system="salesforce", external_id="001A000001")
    return erp, sales
