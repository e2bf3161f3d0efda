"""factory_boy factories for the CRM records."""

from datetime import UTC, date, datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from crm import models

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Channel
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Channel {n}")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Account

    name = factory.Sequence(lambda n: f"Account {n} GmbH")
    industry = "Manufacturing"
    country = "DE"
    region = "DACH"
    employee_band = models.EmployeeBand.MID
    segment = "Operations buyer"
    acquisition_channel = factory.SubFactory(ChannelFactory, name="Trade show")
    acquired_on = date(2024, 1, 15)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.LazyAttribute(lambda c: f"{c.name.lower().replace(' ', '.')}@example.com")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    family = "Fasteners"
    list_price = Decimal("10.00")
    unit_cost = Decimal("6.00")


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Interaction

    account = factory.SubFactory(AccountFactory)
    kind = models.InteractionKind.ORDER
    channel = models.InteractionChannel.WEB
    occurred_at = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    amount = Decimal("100.00")
    direct_cost = Decimal("60.00")


class ServiceCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ServiceCase

    account = factory.SubFactory(AccountFactory)
    subject = factory.Sequence(lambda n: f"Case {n}")
    opened_at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
