"""Root URLs. Each app contributes its own URL modules."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import reauth, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("confirm-password/", reauth.reauth_confirm, name="reauth_confirm"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("crm.urls_records")),
    path("", include("profitability.urls")),
    path("", include("campaigns.urls")),
    path("data/imports/", include("crm.imports.urls")),
    path("data/duplicates/", include("crm.dedupe.urls")),
    path("data/exports/", include("crm.exports.urls")),
    path("api/", include("crm.api.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "crm.views.permission_denied"
