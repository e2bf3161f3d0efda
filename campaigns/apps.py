"""Campaigns: loyalty programs, upsell and cross-sell opportunities, segments and targeted campaigns."""
from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        from profitability.selectors.effective_tier import TierGrantSource, register_tier_grant_source

        from . import receivers  # noqa: F401  (points accrual and opportunities on interaction changes)
        from .selectors import running_tier_grants

        # A loyalty reward's temporary tier upgrade counts wherever service staff see the tier (queue order,
        # badges, entitlements) while it lasts; the engine asks, campaigns answers.
        register_tier_grant_source(TierGrantSource(key="loyalty", reason="loyalty reward", running=running_tier_grants))
