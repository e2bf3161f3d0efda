"""Exports: the page listing them, and one download URL per dataset (``?format=csv|xlsx`` and its filters)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.export_list, name="export_list"),
    path("<slug:dataset>/", views.export_download, name="export_download"),
]
