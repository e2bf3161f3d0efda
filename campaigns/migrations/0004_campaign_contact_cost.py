"""A campaign's contact cost: an optional cost per contact (else the channel's marketing-touch cost rate) and
hold-out variants that are not contacted, so per-variant net profit counts what reaching accounts costs."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_merge_support")]

    operations = [
        *(
            migrations.AddField(
                model_name=model,
                name="cost_per_contact",
                field=models.DecimalField(
                    blank=True, decimal_places=2, max_digits=14, null=True,
                    validators=[django.core.validators.MinValueValidator(Decimal("0.00"))],
                    help_text="What reaching one account costs (a mailing, a call); empty: the marketing-touch "
                              "cost rate of the channel on the day the account is contacted.",
                ),
            )
            for model in ("campaign", "historicalcampaign")
        ),
        *(
            migrations.AddField(
                model_name=model,
                name="contacted",
                field=models.BooleanField(
                    default=True,
                    help_text="Untick for a hold-out control that is not contacted (and costs nothing).",
                ),
            )
            for model in ("campaignvariant", "historicalcampaignvariant")
        ),
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.CheckConstraint(
                condition=models.Q(("cost_per_contact__isnull", True), ("cost_per_contact__gte", 0), _connector="OR"),
                name="campaign_cost_per_contact",
            ),
        ),
    ]
