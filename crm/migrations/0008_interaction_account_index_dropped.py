# The single-column index on crm_interaction.account_id duplicated the leading column of
# interaction_account_time (account, occurred_at); dropping it saves a write per interaction.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0007_roles_for_imports_and_merges'),
    ]

    operations = [
        migrations.AlterField(
            model_name='interaction',
            name='account',
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='interactions',
                to='crm.account',
            ),
        ),
    ]
