"""Serializers of the CRM records. They parse and validate; the views call the services that write.

Money is a decimal string ("1250.00"), datetimes ISO 8601. ``financial_fields`` never reach service staff.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from crm.countries import country_code_error
from crm.models import (
    Account,
    AccountSourceId,
    Contact,
    Interaction,
    InteractionChannel,
    InteractionKind,
    Lead,
    Product,
    ServiceCase,
    Severity,
    SurveyResponse,
)
from crm.roles import Role, has_role
from crm.services.cases import RESPONSE_KINDS
from crm.services.interactions import interaction_value_errors
from profitability.models import Tier

from .base import ConstraintsValidatedMixin
from .fields import FinancialFieldsMixin

FUTURE_TOLERANCE = timedelta(days=1)
#: Complaints are service cases and surveys are NPS answers: each has its own endpoint that writes both rows.
OWN_ENDPOINT_KINDS = {InteractionKind.SURVEY: "/api/v1/survey-answers/", InteractionKind.COMPLAINT: "/api/v1/cases/"}


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def not_in_future(value, label: str):  # type: ignore[no-untyped-def]
    if value is not None and value > timezone.now() + FUTURE_TOLERANCE:
        raise serializers.ValidationError(f"The {label} can't be more than a day in the future.")
    return value


def interaction_rule_errors(
    *, kind: str, amount: Decimal | None, direct_cost: Decimal | None, product: Any, quantity: int | None
) -> dict[str, str]:
    """What is wrong with these values for the interactions endpoint: kinds that have endpoints of their own,
    then the money conventions the page form applies too (``interaction_value_errors``)."""
    if kind in OWN_ENDPOINT_KINDS:
        return {"kind": f"A {InteractionKind(kind).label.lower()} is recorded through {OWN_ENDPOINT_KINDS[kind]}, "
                        "which writes its record and its interaction together."}
    return interaction_value_errors(kind=kind, amount=amount, direct_cost=direct_cost, product=product,
                                    quantity=quantity)


# --- reference objects ------------------------------------------------------------------------------------


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:  # type: ignore[no-untyped-def]
        return user.get_full_name() or user.username


class TierBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "name", "color"]
        read_only_fields = fields


class SourceIdSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccountSourceId
        fields = ["source_system", "external_id"]
        read_only_fields = fields


# --- accounts -----------------------------------------------------------------------------------------------


class AccountSerializer(FinancialFieldsMixin, ConstraintsValidatedMixin, serializers.ModelSerializer):
    financial_fields = ("rank", "revenue_ttm", "net_profit_ttm", "clv_historical", "clv_predictive")

    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), allow_null=True, required=False,
        help_text="The account manager responsible (only admins reassign accounts).",
    )
    owner_detail = UserBriefSerializer(source="owner", read_only=True, allow_null=True)
    source_ids = SourceIdSerializer(many=True, read_only=True)
    tier = TierBriefSerializer(source="snapshot.tier", read_only=True, allow_null=True)
    rank = serializers.IntegerField(source="snapshot.rank", read_only=True, allow_null=True)
    revenue_ttm = _money(source="snapshot.revenue_ttm", read_only=True, allow_null=True)
    net_profit_ttm = _money(source="snapshot.net_profit_ttm", read_only=True, allow_null=True)
    clv_historical = _money(source="snapshot.clv_historical", read_only=True, allow_null=True)
    clv_predictive = _money(source="snapshot.clv_predictive", read_only=True, allow_null=True)

    class Meta:
        model = Account
        fields = [
            "id", "name", "industry", "country", "region", "employee_band", "segment", "owner", "owner_detail",
            "acquisition_channel", "acquired_on", "status", "churned_on", "relationship", "web_domain", "tax_id",
            "phone", "source_ids", "tier", "rank", "revenue_ttm", "net_profit_ttm", "clv_historical",
            "clv_predictive", "history_version", "created_at", "updated_at",
        ]
        read_only_fields = ["history_version", "created_at", "updated_at"]

    def validate_country(self, value: str) -> str:
        if value and (error := country_code_error(value)):
            raise serializers.ValidationError(error)
        return value.upper()

    def validate_owner(self, value):  # type: ignore[no-untyped-def]
        request = self.context["request"]
        current = self.instance.owner_id if self.instance is not None else None
        changing = (value.pk if value else None) != current
        naming_themselves = self.instance is None and value == request.user  # a manager's new account
        if changing and not naming_themselves and not has_role(request.user, Role.ADMIN):
            raise serializers.ValidationError("Only admins assign or reassign an account's manager.")
        if value is not None and changing and not has_role(value, Role.ACCOUNT_MANAGER, Role.ADMIN):
            raise serializers.ValidationError(f"{value.username} is not an account manager.")
        return value

    def update(self, instance, validated_data):  # type: ignore[no-untyped-def]
        # Only the fields sent: a whole-row save would write back the history version read at the start of the
        # request and could undo a concurrent bump (a logged interaction's recompute request).
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save(update_fields=[*validated_data, "updated_at"])
        return instance

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        status = attrs.get("status", getattr(self.instance, "status", Account.Status.ACTIVE))
        churned_on = attrs.get("churned_on", getattr(self.instance, "churned_on", None))
        if status == Account.Status.CHURNED and churned_on is None:
            raise serializers.ValidationError({"churned_on": ["A churned account needs a churn date."]})
        return super().validate(attrs)


class ContactSerializer(ConstraintsValidatedMixin, serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "account", "name", "role", "email", "phone", "source_system", "external_id"]
        extra_kwargs = {"source_system": {"required": False}, "external_id": {"required": False}}


class ProductSerializer(FinancialFieldsMixin, ConstraintsValidatedMixin, serializers.ModelSerializer):
    financial_fields = ("unit_cost",)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "family", "tier_in_family", "list_price", "unit_cost"]


# --- interactions -------------------------------------------------------------------------------------------


class InteractionSerializer(FinancialFieldsMixin, ConstraintsValidatedMixin, serializers.ModelSerializer):
    financial_fields = ("amount", "direct_cost")

    amount = _money(required=False, allow_null=True, min_value=Decimal("0"),
                    help_text="Orders and renewals: net revenue. Returns: refund. Payments: cash received.")
    direct_cost = _money(required=False, allow_null=True, min_value=Decimal("0"),
                         help_text="Blank on an order or return: the product's unit cost × quantity.")

    class Meta:
        model = Interaction
        fields = [
            "id", "account", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity", "product",
            "due_on", "note", "logged_by", "source_system", "external_id", "created_at", "updated_at",
        ]
        read_only_fields = ["logged_by", "source_system", "external_id", "created_at", "updated_at"]
        extra_kwargs = {"quantity": {"max_value": 2_147_483_647}, "note": {"max_length": 4000}}

    def validate_occurred_at(self, value):  # type: ignore[no-untyped-def]
        return not_in_future(value, "date and time")

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        merged = {name: attrs.get(name, getattr(self.instance, name, None))
                  for name in ("kind", "amount", "direct_cost", "product", "quantity")}
        errors = interaction_rule_errors(**merged)
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        return super().validate(attrs)


class InteractionBulkItemSerializer(serializers.Serializer):
    """One interaction of a bulk load, identified by its source system's id (the idempotency key).

    Plain fields (no related-field lookups): accounts and products are checked for the whole batch at once.
    """

    source_system = serializers.CharField(max_length=40)
    external_id = serializers.CharField(max_length=100)
    account = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=InteractionKind.choices)
    channel = serializers.ChoiceField(choices=InteractionChannel.choices, default=InteractionChannel.OTHER)
    occurred_at = serializers.DateTimeField()
    amount = _money(required=False, allow_null=True, min_value=Decimal("0"))
    direct_cost = _money(required=False, allow_null=True, min_value=Decimal("0"))
    quantity = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2_147_483_647)
    product = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    due_on = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")

    def validate_occurred_at(self, value):  # type: ignore[no-untyped-def]
        return not_in_future(value, "date and time")

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        errors = interaction_rule_errors(
            kind=attrs["kind"], amount=attrs.get("amount"), direct_cost=attrs.get("direct_cost"),
            product=attrs.get("product"), quantity=attrs.get("quantity"),
        )
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        return attrs


class BulkErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="Position of the item in the posted list.")
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class BulkErrorsSerializer(serializers.Serializer):
    errors = BulkErrorSerializer(many=True)


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField(), help_text="Interaction ids, in the posted order.")


# --- service cases ------------------------------------------------------------------------------------------


class CaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceCase
        fields = [
            "id", "account", "contact", "subject", "body", "severity", "status", "opened_at", "first_response_at",
            "resolved_at", "assignee", "first_response_due_at", "resolution_due_at", "urgency", "sentiment",
            "urgency_reasons", "source_system", "external_id",
        ]
        read_only_fields = fields


class CaseOpenSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all())
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all(), required=False, allow_null=True)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    channel = serializers.ChoiceField(choices=InteractionChannel.choices, default=InteractionChannel.PHONE)

    def validate_subject(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A case needs a subject.")
        return value

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        contact = attrs.get("contact")
        if contact is not None and contact.account_id != attrs["account"].pk:
            raise serializers.ValidationError({"contact": ["The contact belongs to another account."]})
        return attrs


class CaseStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ServiceCase.Status.choices)


class CaseResponseSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=4000)
    channel = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in RESPONSE_KINDS], default=InteractionChannel.EMAIL
    )

    def validate_message(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A response needs a message.")
        return value


# --- survey answers and leads -------------------------------------------------------------------------------


class SurveyAnswerSerializer(serializers.ModelSerializer):
    channel = serializers.ChoiceField(choices=InteractionChannel.choices, default=InteractionChannel.OTHER,
                                      write_only=True, help_text="How the answer came in (its survey interaction).")
    interaction = serializers.SerializerMethodField(help_text="The survey interaction recorded with the answer.")

    class Meta:
        model = SurveyResponse
        fields = ["id", "account", "contact", "score", "comment", "answered_at", "channel", "interaction",
                  "source_system", "external_id"]
        read_only_fields = ["source_system", "external_id"]
        extra_kwargs = {"score": {"min_value": 0, "max_value": 10}, "comment": {"max_length": 4000}}

    def get_interaction(self, response) -> int | None:  # type: ignore[no-untyped-def]
        interaction = getattr(response, "interaction", None)
        if interaction is not None:
            return interaction.pk
        return self.context.get("survey_interactions", {}).get(response.external_id)

    def validate_answered_at(self, value):  # type: ignore[no-untyped-def]
        return not_in_future(value, "answer time")

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        contact = attrs.get("contact")
        if contact is not None and contact.account_id != attrs["account"].pk:
            raise serializers.ValidationError({"contact": ["The contact belongs to another account."]})
        return attrs


class LeadSerializer(ConstraintsValidatedMixin, serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = [
            "id", "company_name", "industry", "country", "region", "employee_band", "channel", "owner", "stage",
            "expected_value", "mql_at", "sql_at", "closed_at", "account", "source_system", "external_id",
        ]
        extra_kwargs = {"source_system": {"required": False}, "external_id": {"required": False},
                        "expected_value": {"min_value": Decimal("0")}}

    def validate_country(self, value: str) -> str:
        if value and (error := country_code_error(value)):
            raise serializers.ValidationError(error)
        return value.upper()

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        def current(name):  # type: ignore[no-untyped-def]
            return attrs.get(name, getattr(self.instance, name, None))

        stage = current("stage") or Lead.Stage.MQL
        errors = {}
        if stage == Lead.Stage.SQL and current("sql_at") is None:
            errors["sql_at"] = ["A sales-qualified lead needs the date it was qualified."]
        if stage in (Lead.Stage.WON, Lead.Stage.LOST) and current("closed_at") is None:
            errors["closed_at"] = ["A won or lost lead needs the date it closed."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().validate(attrs)
