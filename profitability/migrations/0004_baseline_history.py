from django.db import migrations
from django.utils import timezone

AUDITED = ["Tier", "CostRate", "ClvSettings"]


def baseline_history(apps, schema_editor):
    """Give every configuration row without history a creation record, so the first edit shows old → new."""
    now = timezone.now()
    for name in AUDITED:
        model = apps.get_model("profitability", name)
        historical = apps.get_model("profitability", f"Historical{name}")
        recorded = set(historical.objects.values_list("id", flat=True))
        historical.objects.bulk_create([
            historical(
                **{f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields},
                history_date=now, history_type="+", history_change_reason="Tierwise default",
            )
            for obj in model.objects.exclude(pk__in=recorded)
        ])


class Migration(migrations.Migration):
    dependencies = [("profitability", "0003_snapshot_indexes_runners_up")]

    operations = [migrations.RunPython(baseline_history, migrations.RunPython.noop)]
