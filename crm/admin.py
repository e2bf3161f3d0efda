from django.contrib import admin

from .models import (
    Account,
    AccountSourceId,
    Channel,
    Contact,
    Interaction,
    Lead,
    MarketingSpend,
    Product,
    ServiceCase,
    SurveyResponse,
)


class ViewOnlyAdmin:
    """Mixin: the admin shows these rows (and their history) but never adds, changes or deletes them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


class AccountSourceIdInline(admin.TabularInline):
    model = AccountSourceId
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "role", "email", "phone"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "industry", "country", "region", "segment", "owner", "acquisition_channel", "status",
                    "relationship"]
    list_filter = ["status", "relationship", "industry", "region", "employee_band", "acquisition_channel"]
    search_fields = ["name", "web_domain", "tax_id", "source_ids__external_id"]
    list_select_related = ["owner", "acquisition_channel"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["history_version", "created_at", "updated_at"]
    date_hierarchy = "acquired_on"
    inlines = [AccountSourceIdInline, ContactInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "role", "email", "phone"]
    search_fields = ["name", "email", "phone", "account__name"]
    list_select_related = ["account"]
    autocomplete_fields = ["account"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "family", "tier_in_family", "list_price", "unit_cost"]
    list_filter = ["family"]
    search_fields = ["sku", "name", "family"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "account", "kind", "channel", "amount", "direct_cost", "quantity", "product",
                    "source_system"]
    list_filter = ["kind", "channel", "source_system"]
    search_fields = ["account__name", "external_id", "note"]
    list_select_related = ["account", "product"]
    autocomplete_fields = ["account", "product", "logged_by"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is wasted work


@admin.register(ServiceCase)
class ServiceCaseAdmin(admin.ModelAdmin):
    list_display = ["subject", "account", "severity", "status", "opened_at", "first_response_at", "assignee",
                    "resolution_due_at"]
    list_filter = ["status", "severity"]
    search_fields = ["subject", "body", "account__name"]
    list_select_related = ["account", "assignee"]
    autocomplete_fields = ["account", "contact", "assignee"]
    date_hierarchy = "opened_at"

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        from .services.cases import cases_score

        super().save_model(request, obj, form, change)
        cases_score(case_ids=[obj.pk], only_unscored=False)  # the text may have changed


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["answered_at", "account", "score", "comment"]
    list_filter = ["score"]
    search_fields = ["account__name", "comment"]
    list_select_related = ["account"]
    autocomplete_fields = ["account", "contact"]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["company_name", "stage", "channel", "expected_value", "mql_at", "sql_at", "closed_at", "owner"]
    list_filter = ["stage", "channel", "industry"]
    search_fields = ["company_name", "account__name"]
    list_select_related = ["channel", "owner"]
    autocomplete_fields = ["account", "owner"]
    date_hierarchy = "mql_at"


@admin.register(MarketingSpend)
class MarketingSpendAdmin(admin.ModelAdmin):
    list_display = ["period", "channel", "amount"]
    list_filter = ["channel"]
    date_hierarchy = "period"
