"""Complaints: logging a service case on an account (service staff, admins, the account's manager)."""

from django.urls import path

from . import views_cases

urlpatterns = [
    path("accounts/<int:pk>/cases/new", views_cases.case_create, name="case_create"),
]
