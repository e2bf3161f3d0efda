"""django-filter FilterSets: the query parameters each list accepts (all optional, validated: 400 if bad)."""

from __future__ import annotations

from django_filters import rest_framework as filters

from campaigns.models import Enrolment, LedgerEntry, LoyaltyProgram, Opportunity
from crm.models import Account, Contact, Interaction, Lead, Product, ServiceCase, SurveyResponse
from profitability.models import AccountSnapshot


class AccountFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    tier = filters.NumberFilter(field_name="snapshot__tier", help_text="Tier id.")
    owner = filters.NumberFilter(field_name="owner", help_text="User id of the account manager.")
    source_system = filters.CharFilter(field_name="source_ids__source_system", distinct=True)
    external_id = filters.CharFilter(field_name="source_ids__external_id", distinct=True)

    class Meta:
        model = Account
        fields = ["name", "owner", "tier", "segment", "industry", "region", "country", "status", "relationship",
                  "source_system", "external_id"]


class ContactFilter(filters.FilterSet):
    email = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Contact
        fields = ["account", "email", "source_system", "external_id"]


class ProductFilter(filters.FilterSet):
    class Meta:
        model = Product
        fields = ["family", "sku"]


class InteractionFilter(filters.FilterSet):
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte",
                                               help_text="On or after this time (ISO 8601).")
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt",
                                                help_text="Before this time (ISO 8601).")
    owner = filters.NumberFilter(field_name="account__owner", help_text="The accounts' manager (user id).")

    class Meta:
        model = Interaction
        fields = ["account", "kind", "channel", "product", "source_system", "external_id", "occurred_after",
                  "occurred_before", "owner"]


class CaseFilter(filters.FilterSet):
    opened_after = filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")

    class Meta:
        model = ServiceCase
        fields = ["account", "status", "severity", "assignee", "opened_after", "opened_before"]


class SurveyAnswerFilter(filters.FilterSet):
    answered_after = filters.IsoDateTimeFilter(field_name="answered_at", lookup_expr="gte")
    answered_before = filters.IsoDateTimeFilter(field_name="answered_at", lookup_expr="lt")

    class Meta:
        model = SurveyResponse
        fields = ["account", "score", "answered_after", "answered_before"]


class LeadFilter(filters.FilterSet):
    class Meta:
        model = Lead
        fields = ["stage", "owner", "channel", "industry", "region", "account"]


class SnapshotFilter(filters.FilterSet):
    owner = filters.NumberFilter(field_name="account__owner")

    class Meta:
        model = AccountSnapshot
        fields = ["account", "tier", "owner"]


class OpportunityFilter(filters.FilterSet):
    owner = filters.NumberFilter(field_name="account__owner")

    class Meta:
        model = Opportunity
        fields = ["account", "product", "status", "source", "owner"]


class LoyaltyProgramFilter(filters.FilterSet):
    class Meta:
        model = LoyaltyProgram
        fields = ["status", "auto_enrol"]


class EnrolmentFilter(filters.FilterSet):
    class Meta:
        model = Enrolment
        fields = ["account", "program", "method"]


class LedgerEntryFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="enrolment__account")
    program = filters.NumberFilter(field_name="enrolment__program")
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields = ["enrolment", "account", "program", "kind", "occurred_after", "occurred_before"]
