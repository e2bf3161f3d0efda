from django.db import migrations

from crm.roles import sync_role_permissions


class Migration(migrations.Migration):
    """Grant the role groups their permissions on the import and merge models."""

    dependencies = [("crm", "0006_merges")]

    operations = [migrations.RunPython(sync_role_permissions, migrations.RunPython.noop)]
