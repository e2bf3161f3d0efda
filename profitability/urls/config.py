"""Admin configuration: tier bands and service levels, cost rates, CLV settings, and the audit trail."""

from django.urls import path

from ..views import config as views

urlpatterns = [
    path("settings/tiers/", views.tiers, name="config_tiers"),
    path("settings/tiers/preview/", views.tiers_preview, name="config_tiers_preview"),
    path("settings/cost-rates/", views.cost_rates, name="config_cost_rates"),
    path("settings/cost-rates/preview/", views.cost_rate_preview, name="config_cost_rate_preview"),
    path("settings/cost-rates/<int:rate_id>/delete/", views.cost_rate_delete, name="config_cost_rate_delete"),
    path("settings/clv/", views.clv, name="config_clv"),
    path("settings/clv/preview/", views.clv_preview, name="config_clv_preview"),
    path("settings/clv/refit/", views.clv_refit, name="config_clv_refit"),
    path("settings/history/", views.history, name="config_history"),
]
