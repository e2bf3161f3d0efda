"""Indexes for the account list: search by name as you type, and sort every account by name.

PostgreSQL only (trigram search needs pg_trgm); other databases skip them. The indexes are not in the
model state: ``icontains`` filters on ``UPPER(name)``, which a trigram GIN index on that expression serves.
Built CONCURRENTLY so a large book stays writable while they build.
"""

from django.db import migrations

INDEXES = [
    ("crm_account_name_upper_trgm", "crm_account USING gin (UPPER(name) gin_trgm_ops)"),
    ("crm_account_name", "crm_account (name, id)"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES:
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _definition in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("crm", "0003_case_scoring"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
