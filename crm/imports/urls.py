"""URLs of the import pages (mounted at ``data/imports/``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.import_list, name="import_list"),
    path("new/", views.import_upload, name="import_upload"),
    path("<uuid:job_id>/", views.import_detail, name="import_detail"),
    path("<uuid:job_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("<uuid:job_id>/preview/", views.import_preview, name="import_preview"),
    path("<uuid:job_id>/start/", views.import_start, name="import_start"),
    path("<uuid:job_id>/cancel/", views.import_cancel, name="import_cancel"),
    path("<uuid:job_id>/rejects.csv", views.import_rejects, name="import_rejects"),
]
