from django.db import migrations

# Room on each page for the row's next version: a recompute rewrites a snapshot without touching its indexed
# figures most of the time, and with free space on the page that update is HOT (no new index entries, old
# versions pruned in place). At the default fillfactor of 100, an account recomputed in a burst grew a chain of
# dead versions that each later read and write walked (one-account recompute p50 6.8 → 11.5 ms over 600 writes).
# Pages filled from now on keep the room; existing full pages get it as their rows move, or at VACUUM FULL.


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE profitability_accountsnapshot SET (fillfactor = 80)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE profitability_accountsnapshot RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("profitability", "0009_interaction_months")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
