"""Campaigns: loyalty programs, upsell and cross-sell opportunities, segments and targeted campaigns."""
from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (points accrual and opportunities on interaction changes)
