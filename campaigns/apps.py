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

        # Their changes are audited (django-simple-history); the admins' audit trail page lists them.
        from profitability.selectors.config import register_history_source

        from . import models

        for key, model, label in (("loyalty_program", models.LoyaltyProgram, "Loyalty program"),
                                  ("earning_rule", models.EarningRule, "Earning rule"),
                                  ("reward", models.Reward, "Reward"),
                                  ("segment", models.Segment, "Segment"),
                                  ("campaign", models.Campaign, "Campaign"),
                                  ("campaign_variant", models.CampaignVariant, "Campaign variant")):
            register_history_source(key, model, label)
