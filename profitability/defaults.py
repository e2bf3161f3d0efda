"""Default service tiers, activity cost rates and CLV settings — created by a migration, tuned by admins."""

from datetime import date
from decimal import Decimal

TIERS = [
    # name, position, upper %, first response h, resolution h, queue priority, colour, entitlements
    ("Platinum", 1, "5", 1, 8, 1, "#5b6b8c",
     "Dedicated account manager\nDirect line to the account team\nExclusive content and early access"),
    ("Gold", 2, "20", 4, 24, 2, "#b8860b", "Named service contact\nPriority phone line"),
    ("Silver", 3, "50", 8, 48, 3, "#7d8590", "Priority email support"),
    ("Bronze", 4, "100", 24, 96, 4, "#a0522d", "Standard support with a guaranteed response"),
]

# activity, interaction kind, per unit, rate — time-driven ABC defaults an admin will tune.
RATES = [
    ("Order handling", "order", False, "25.00"),
    ("Shipping", "order", False, "12.00"),
    ("Returns processing", "return", False, "35.00"),
    ("Support calls", "support_call", False, "18.00"),
    ("Support emails", "support_email", False, "8.00"),
    ("Visits", "visit", False, "250.00"),
    ("Complaint handling", "complaint", False, "60.00"),
    ("Marketing touches", "marketing_touch", False, "2.00"),
    ("Promotion fulfilment", "promotion_response", False, "5.00"),
    ("Inquiries", "inquiry", False, "10.00"),
    ("Payment processing", "payment", False, "3.00"),
    ("Contract administration", "renewal", False, "20.00"),
]


def create_defaults(apps, schema_editor=None) -> None:
    """Create whatever default is missing (idempotent); ``apps`` is a migration state or the app registry."""
    Tier = apps.get_model("profitability", "Tier")
    CostRate = apps.get_model("profitability", "CostRate")
    ClvSettings = apps.get_model("profitability", "ClvSettings")
    for name, position, upper, first, resolution, priority, color, entitlements in TIERS:
        Tier.objects.get_or_create(name=name, defaults=dict(
            position=position, upper_pct=Decimal(upper), first_response_hours=first, resolution_hours=resolution,
            queue_priority=priority, color=color, entitlements=entitlements,
        ))
    for activity, kind, per_unit, rate in RATES:
        CostRate.objects.get_or_create(
            activity=activity, kind=kind, channel="", effective_from=date(2000, 1, 1),
            defaults={"per_unit": per_unit, "rate": Decimal(rate)},
        )
    ClvSettings.objects.get_or_create(pk=1)
