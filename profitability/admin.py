from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from crm.admin import ViewOnlyAdmin

from .models import (
    AccountSnapshot,
    BookSummary,
    ChannelCac,
    ClvModelFit,
    ClvSettings,
    CostRate,
    SegmentPnl,
    Tier,
    TierChange,
)


class SettingsPageAdmin(ViewOnlyAdmin, SimpleHistoryAdmin):
    """Configuration: changed on the settings pages only, which validate the whole set (bands that reach
    100 %, rates never edited in place once in effect), record who changed what and recompute the book."""


@admin.register(CostRate)
class CostRateAdmin(SettingsPageAdmin):
    list_display = ["activity", "kind", "channel", "per_unit", "rate", "effective_from"]
    list_filter = ["kind", "channel", "per_unit"]
    search_fields = ["activity"]
    date_hierarchy = "effective_from"


@admin.register(Tier)
class TierAdmin(SettingsPageAdmin):
    list_display = ["name", "position", "upper_pct", "first_response_hours", "resolution_hours", "queue_priority"]


@admin.register(ClvSettings)
class ClvSettingsAdmin(SettingsPageAdmin):
    list_display = ["__str__", "discount_rate", "horizon_months", "ranking_metric", "retention_override"]


class ReadOnlyAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    """Computed by the engine: viewable, never edited by hand."""


@admin.register(AccountSnapshot)
class AccountSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "tier",
        "net_profit_ttm",
        "net_profit",
        "clv_predictive",
        "clv_cac_ratio",
        "rank",
        "computed_version",
        "computed_at",
    ]
    list_filter = ["tier", "clv_model"]
    search_fields = ["account__name"]
    list_select_related = ["account", "tier"]
    show_full_result_count = False


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "account", "from_tier", "to_tier", "reason"]
    list_filter = ["to_tier", "from_tier"]
    search_fields = ["account__name"]
    list_select_related = ["account", "from_tier", "to_tier"]


@admin.register(ClvModelFit)
class ClvModelFitAdmin(ReadOnlyAdmin):
    list_display = ["fitted_at", "model", "params", "log_likelihood", "sample_size", "time_unit", "converged"]
    list_filter = ["model", "converged"]


@admin.register(ChannelCac)
class ChannelCacAdmin(ReadOnlyAdmin):
    list_display = ["quarter_start", "channel", "spend", "acquired", "cac"]
    list_filter = ["channel"]


@admin.register(SegmentPnl)
class SegmentPnlAdmin(ReadOnlyAdmin):
    list_display = ["dimension", "rank", "value", "accounts", "revenue", "net_profit", "net_margin_pct"]
    list_filter = ["dimension"]


@admin.register(BookSummary)
class BookSummaryAdmin(ReadOnlyAdmin):
    list_display = [
        "computed_at",
        "active_accounts",
        "total_net_profit",
        "peak_profit_pct",
        "top20_profit_pct",
        "loss_makers",
    ]
