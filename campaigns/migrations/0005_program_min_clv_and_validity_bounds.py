"""A loyalty program's bounds as field validators: a negative minimum CLV is an error on that field (not the
nameless CHECK violation), and points stay valid for at most 36,500 days so the expiry cut-off is a real date."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_campaign_contact_cost")]

    operations = [
        *(
            migrations.AlterField(
                model_name=model,
                name="min_clv",
                field=models.DecimalField(
                    blank=True, decimal_places=2, max_digits=14, null=True,
                    validators=[django.core.validators.MinValueValidator(Decimal("0.00"))],
                    help_text="Minimum CLV; empty: no minimum.",
                ),
            )
            for model in ("loyaltyprogram", "historicalloyaltyprogram")
        ),
        *(
            migrations.AlterField(
                model_name=model,
                name="points_validity_days",
                field=models.PositiveIntegerField(
                    blank=True, null=True,
                    validators=[django.core.validators.MinValueValidator(1),
                                django.core.validators.MaxValueValidator(36500)],
                    help_text="Earned points expire after this many days; empty: never.",
                ),
            )
            for model in ("loyaltyprogram", "historicalloyaltyprogram")
        ),
    ]
