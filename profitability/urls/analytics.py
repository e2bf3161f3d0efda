"""Analytics: KPI dashboard, whale curve, segments, channels, funnel, lead scoring, KPI check, what-if, targets."""

from django.urls import path

from ..views import analytics as views

urlpatterns = [
    path("analytics/", views.kpi_dashboard, name="kpi_dashboard"),
    path("analytics/whale-curve/", views.whale_curve, name="analytics_whale"),
    path("analytics/segments/", views.segments, name="analytics_segments"),
    path("analytics/channels/", views.channels, name="analytics_channels"),
    path("analytics/funnel/", views.funnel, name="analytics_funnel"),
    path("analytics/leads/", views.leads, name="analytics_leads"),
    path("analytics/kpi-check/", views.kpi_check, name="analytics_kpi_check"),
    path("analytics/kpi-check/visibility/", views.kpi_visibility, name="analytics_kpi_visibility"),
    path("analytics/what-if/", views.what_if, name="analytics_what_if"),
    path("analytics/targets/", views.targets, name="analytics_targets"),
    path("analytics/refresh/", views.refresh_now, name="analytics_refresh"),
    path("analytics/download/<slug:name>.csv", views.analytics_csv, name="analytics_csv"),
]
