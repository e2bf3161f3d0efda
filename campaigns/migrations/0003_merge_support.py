from django.db import migrations


class Migration(migrations.Migration):
    """Reserved for what merging duplicate accounts needs of the campaigns tables (filled in by that work)."""

    dependencies = [("campaigns", "0002_ledger_append_only_and_roles")]

    operations: list = []
