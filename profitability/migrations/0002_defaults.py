from django.db import migrations

from crm.roles import sync_role_permissions
from profitability.defaults import create_defaults


class Migration(migrations.Migration):
    dependencies = [("profitability", "0001_initial"), ("crm", "0002_roles")]

    operations = [
        migrations.RunPython(create_defaults, migrations.RunPython.noop),
        migrations.RunPython(sync_role_permissions, migrations.RunPython.noop),
    ]
