"""URLs of the duplicates area, mounted at ``data/duplicates/``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.duplicate_list, name="duplicate_list"),
    path("scan/", views.duplicate_scan, name="duplicate_scan"),
    path("<int:pk>/", views.duplicate_review, name="duplicate_review"),
    path("<int:pk>/merge/", views.duplicate_merge, name="duplicate_merge"),
    path("<int:pk>/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("<int:pk>/reopen/", views.duplicate_reopen, name="duplicate_reopen"),
    path("merges/", views.merge_history, name="merge_history"),
    path("merges/<int:pk>/", views.merge_detail, name="merge_detail"),
    path("accounts/<int:pk>/merges/", views.account_merges, name="account_merges"),
]
