"""Campaign pages: opportunities, loyalty, segments and campaigns, plus the account-page panels."""

from django.urls import path

from .views import campaigns, loyalty, opportunities, segments

urlpatterns = [
    path("opportunities/", opportunities.opportunity_worklist, name="opportunity_worklist"),
    path("opportunities/<int:pk>/status/", opportunities.opportunity_status, name="opportunity_status"),
    path("accounts/<int:pk>/opportunities/", opportunities.account_opportunities, name="account_opportunities"),
    path("accounts/<int:pk>/loyalty/", loyalty.account_loyalty, name="account_loyalty"),
    path("accounts/<int:pk>/loyalty/enrol/", loyalty.loyalty_enrol, name="loyalty_enrol"),
    path("loyalty/enrolments/<int:pk>/redeem/", loyalty.loyalty_redeem, name="loyalty_redeem"),
    path("loyalty/enrolments/<int:pk>/adjust/", loyalty.loyalty_adjust, name="loyalty_adjust"),
    path("loyalty/", loyalty.loyalty_program_list, name="loyalty_program_list"),
    path("loyalty/new/", loyalty.loyalty_program_create, name="loyalty_program_create"),
    path("loyalty/preview/", loyalty.loyalty_program_preview, name="loyalty_program_preview"),
    path("loyalty/<int:pk>/", loyalty.loyalty_program_detail, name="loyalty_program_detail"),
    path("loyalty/<int:pk>/edit/", loyalty.loyalty_program_edit, name="loyalty_program_edit"),
    path("loyalty/<int:pk>/enrol-eligible/", loyalty.loyalty_program_enrol_all, name="loyalty_program_enrol_all"),
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_create, name="segment_create"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/cluster/", segments.segment_cluster, name="segment_cluster"),
    path("segments/<int:pk>/", segments.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", segments.segment_edit, name="segment_edit"),
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/preview/", campaigns.campaign_preview, name="campaign_preview"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/launch/", campaigns.campaign_launch, name="campaign_launch"),
    path("campaigns/<int:pk>/expand/", campaigns.campaign_expand, name="campaign_expand"),
    path("campaigns/<int:pk>/stop/", campaigns.campaign_stop, name="campaign_stop"),
]
