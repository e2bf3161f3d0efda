"""Serializers of the profitability engine's output (snapshots, read-only) and the service tiers."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from profitability.models import MAX_SLA_HOURS, AccountSnapshot, Tier

from .fields import FinancialFieldsMixin
from .serializers_crm import TierBriefSerializer


class SnapshotSerializer(serializers.ModelSerializer):
    """An account's latest figures (account managers and admins only)."""

    tier = TierBriefSerializer(read_only=True, allow_null=True)
    clv_cac_below_target = serializers.BooleanField(read_only=True, help_text="CLV/CAC below 3.")

    class Meta:
        model = AccountSnapshot
        fields = [
            "account", "computed_version", "computed_at", "as_of",
            "revenue", "returns", "cogs", "gross_margin", "cost_to_serve", "net_profit", "net_margin_pct", "orders",
            "revenue_ttm", "returns_ttm", "cogs_ttm", "gross_margin_ttm", "cost_to_serve_ttm", "net_profit_ttm",
            "orders_ttm", "cost_breakdown", "cost_breakdown_ttm", "first_order_at", "last_order_at",
            "last_interaction_at", "cac", "clv_historical", "clv_formula", "clv_predictive", "clv_model", "p_alive",
            "expected_purchases_12m", "clv_cac_ratio", "clv_cac_below_target", "rank", "top_share_pct", "tier",
            "explanation",
        ]
        read_only_fields = fields


class TierSerializer(FinancialFieldsMixin, serializers.ModelSerializer):
    """A service tier. The band (how far down the profitability ranking it reaches) is for account managers
    and admins; everybody sees the service level and entitlements."""

    financial_fields = ("upper_pct",)

    entitlements = serializers.ListField(
        source="entitlement_list", child=serializers.CharField(max_length=300), required=False, default=list,
        help_text="One entitlement per item, e.g. 'Direct line to the account team'.",
    )

    class Meta:
        model = Tier
        fields = ["id", "name", "position", "upper_pct", "first_response_hours", "resolution_hours",
                  "queue_priority", "entitlements", "color"]
        extra_kwargs = {
            # The full band rules are checked by profitability.configuration (the tier page's validation).
            "name": {"validators": []}, "position": {"validators": [], "max_value": 32767},
            "upper_pct": {"min_value": Decimal("0.01"), "max_value": Decimal("100")},
            "first_response_hours": {"max_value": MAX_SLA_HOURS},
            "resolution_hours": {"max_value": MAX_SLA_HOURS},
            "queue_priority": {"max_value": 32767},
        }
