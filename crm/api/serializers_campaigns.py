"""Serializers of opportunities and loyalty (programs, enrolments, the points ledger).

Program writes are parsed here for shape only; the program form and its rule/reward formsets (the page's
validation) decide, and ``campaigns.services.loyalty.program_save`` writes (audited).
"""

from __future__ import annotations

from rest_framework import serializers

from campaigns.earning import reason_without_money
from campaigns.models import MAX_DAYS, EarningRule, Enrolment, LedgerEntry, LoyaltyProgram, Opportunity, Reward
from crm.models import ZERO

from .fields import FinancialFieldsMixin, shows_financials


class OpportunitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Opportunity
        fields = ["id", "account", "product", "from_product", "source", "probability", "expected_margin", "reason",
                  "status", "status_changed_at", "status_changed_by", "generated_at"]
        read_only_fields = fields


class OpportunityStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Opportunity.Status.choices)


class EarningRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = EarningRule
        fields = ["id", "trigger", "points"]


class RewardSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reward
        fields = ["id", "name", "kind", "point_cost", "discount_pct", "upgrade_tier", "upgrade_days", "active"]


class LoyaltyProgramSerializer(FinancialFieldsMixin, serializers.ModelSerializer):
    """A loyalty program as everybody reads it (the CLV threshold and what a point is worth in money only for
    account managers and admins)."""

    financial_fields = ("min_clv", "point_value")
    rules = EarningRuleSerializer(many=True, read_only=True)
    rewards = RewardSerializer(many=True, read_only=True)

    class Meta:
        model = LoyaltyProgram
        fields = ["id", "name", "description", "status", "starts_on", "ends_on", "eligible_tiers",
                  "eligible_segments", "min_clv", "auto_enrol", "point_value", "points_validity_days", "rules",
                  "rewards", "created_at", "updated_at"]
        read_only_fields = fields


class RuleInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, min_value=1, help_text="An existing rule; leave out for a new one.")
    trigger = serializers.ChoiceField(choices=EarningRule.Trigger.choices)
    points = serializers.DecimalField(max_digits=10, decimal_places=4)


class RewardInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, min_value=1, help_text="An existing reward; leave out for a new one.")
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=Reward.Kind.choices)
    point_cost = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    discount_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    upgrade_tier = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    upgrade_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=32767)
    active = serializers.BooleanField(default=True)


class LoyaltyProgramInputSerializer(serializers.Serializer):
    """A program with its full lists of rules and rewards (rules or rewards left out of a PATCH stay as they are;
    existing ones left out of a list are removed, which the program's rules refuse once they have been used)."""

    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=LoyaltyProgram.Status.choices, default=LoyaltyProgram.Status.DRAFT)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True)
    eligible_tiers = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    eligible_segments = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                              default=list)
    min_clv = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True,
                                       min_value=ZERO)
    auto_enrol = serializers.BooleanField(default=False)
    point_value = serializers.DecimalField(max_digits=10, decimal_places=4, required=False)
    points_validity_days = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                                    max_value=MAX_DAYS)
    rules = RuleInputSerializer(many=True, required=False)
    rewards = RewardInputSerializer(many=True, required=False)


class EnrolmentSerializer(serializers.ModelSerializer):
    balance = serializers.IntegerField(read_only=True, help_text="Points: the sum of the enrolment's ledger entries.")

    class Meta:
        model = Enrolment
        fields = ["id", "program", "account", "enrolled_at", "method", "enrolled_by", "balance"]
        read_only_fields = ["enrolled_at", "method", "enrolled_by", "balance"]
        validators = []  # enrolling twice is a no-op in the service, not an error


class RedeemSerializer(serializers.Serializer):
    reward = serializers.IntegerField(min_value=1)


class AdjustSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000, help_text="Negative to deduct.")
    reason = serializers.CharField(max_length=300)

    def validate_points(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("An adjustment moves at least one point.")
        return value


class LedgerEntrySerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="enrolment.account_id", read_only=True)
    program = serializers.IntegerField(source="enrolment.program_id", read_only=True)

    def to_representation(self, instance: LedgerEntry) -> dict:
        data = super().to_representation(instance)
        if not shows_financials(self.context):  # service staff: the reason without the revenue it was earned on
            data["reason"] = reason_without_money(data["reason"])
        return data

    class Meta:
        model = LedgerEntry
        fields = ["id", "enrolment", "account", "program", "kind", "points", "occurred_at", "recorded_at", "reason",
                  "rule", "source_interaction_id", "reward", "actor"]
        read_only_fields = fields
