from django.db import migrations

# The ledger stays append-only, with one sanctioned exception for merging duplicate accounts: when two
# enrolments of the same program are combined, their entries move to the surviving enrolment unchanged
# (points, reasons, times, accrual keys). The mover must switch it on for its own transaction only
# (``set_config('tierwise.ledger_reassign', 'on', true)``, see campaigns.services.merge), and even then an
# UPDATE that changes anything but ``enrolment_id``, or moves an entry to another program, is refused.
SANCTIONED = """
CREATE OR REPLACE FUNCTION campaigns_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('tierwise.ledger_reassign', true) = 'on'
       AND (to_jsonb(NEW) - 'enrolment_id') = (to_jsonb(OLD) - 'enrolment_id')
       AND (SELECT program_id FROM campaigns_enrolment WHERE id = NEW.enrolment_id)
           = (SELECT program_id FROM campaigns_enrolment WHERE id = OLD.enrolment_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the points ledger is append-only: % of an entry is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
"""
ORIGINAL = """
CREATE OR REPLACE FUNCTION campaigns_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only: % of an entry is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
"""


def sanction_reassign(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SANCTIONED, params=None)


def strict_again(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ORIGINAL, params=None)


class Migration(migrations.Migration):
    """What merging duplicate accounts needs of the campaigns tables: moving ledger entries between enrolments."""

    dependencies = [("campaigns", "0002_ledger_append_only_and_roles")]

    operations = [migrations.RunPython(sanction_reassign, strict_again)]
