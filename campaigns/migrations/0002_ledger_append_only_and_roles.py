from django.db import migrations

from crm.roles import sync_role_permissions

APPEND_ONLY = """
CREATE FUNCTION campaigns_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only: % of an entry is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER campaigns_ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON campaigns_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION campaigns_ledger_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS campaigns_ledgerentry_append_only ON campaigns_ledgerentry;
DROP FUNCTION IF EXISTS campaigns_ledger_append_only();
"""


def append_only(apps, schema_editor):  # type: ignore[no-untyped-def]
    # PostgreSQL refuses UPDATE and DELETE of ledger rows whatever the code path (raw SQL, admin, shell).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


def drop_append_only(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial"), ("profitability", "0002_defaults")]

    operations = [
        migrations.RunPython(append_only, drop_append_only),
        # Admins get every campaigns.* model permission (crm.roles.ROLE_PERMISSIONS).
        migrations.RunPython(sync_role_permissions, migrations.RunPython.noop),
    ]
