"""Service staff: the tier-ordered case queue and its inline actions, account lookup, an account's service view."""

from django.urls import path

from ..views import service

urlpatterns = [
    path("service/queue/", service.service_queue, name="service_queue"),
    path("service/cases/<int:pk>/assign", service.service_case_assign, name="service_case_assign"),
    path("service/cases/<int:pk>/status", service.service_case_status, name="service_case_status"),
    path("service/cases/<int:pk>/first-response", service.service_case_respond, name="service_case_respond"),
    path("service/lookup/", service.account_lookup_view, name="account_lookup"),
    path("service/accounts/<int:pk>/", service.service_account_view, name="service_account"),
]
