"""Django admin for the campaigns app. The points ledger is read-only here: entries are appended by the
loyalty services only (accrual, redemption, adjustment, expiry)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from . import models


class EarningRuleInline(admin.TabularInline):
    model = models.EarningRule
    extra = 0


class RewardInline(admin.TabularInline):
    model = models.Reward
    extra = 0


@admin.register(models.LoyaltyProgram)
class LoyaltyProgramAdmin(SimpleHistoryAdmin):
    list_display = ["name", "status", "starts_on", "ends_on", "auto_enrol"]
    list_filter = ["status"]
    search_fields = ["name"]
    filter_horizontal = ["eligible_tiers", "eligible_segments"]
    inlines = [EarningRuleInline, RewardInline]


@admin.register(models.Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["account", "program", "enrolled_at", "method"]
    list_filter = ["program", "method"]
    search_fields = ["account__name"]
    raw_id_fields = ["account", "enrolled_by"]
    readonly_fields = ["accrued_version"]


@admin.register(models.LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "enrolment", "kind", "points", "reason"]
    list_filter = ["kind"]
    search_fields = ["enrolment__account__name", "reason"]
    list_select_related = ["enrolment__account", "enrolment__program"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(models.Segment)
class SegmentAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "archived", "updated_at"]
    list_filter = ["kind", "archived"]
    search_fields = ["name"]


@admin.register(models.ClusteringRun)
class ClusteringRunAdmin(admin.ModelAdmin):
    list_display = ["computed_at", "k", "silhouette", "accounts", "seed"]


class VariantInline(admin.TabularInline):
    model = models.CampaignVariant
    extra = 0


@admin.register(models.Campaign)
class CampaignAdmin(SimpleHistoryAdmin):
    list_display = ["name", "segment", "offer", "status", "launched_at"]
    list_filter = ["status", "offer"]
    inlines = [VariantInline]


@admin.register(models.Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ["account", "product", "source", "expected_margin", "status"]
    list_filter = ["status", "source"]
    search_fields = ["account__name", "product__name"]
    raw_id_fields = ["account", "product", "from_product", "status_changed_by"]


@admin.register(models.AssociationRule)
class AssociationRuleAdmin(admin.ModelAdmin):
    list_display = ["antecedent", "consequent", "tier", "industry", "support", "confidence", "lift"]
    list_filter = ["tier", "industry"]
