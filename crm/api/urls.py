"""API URLs: the resources under /api/v1/, the OpenAPI schema, the docs page and the token page."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.decorators import api_view, permission_classes, schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.routers import DefaultRouter

from . import views_campaigns, views_crm, views_pages, views_profitability


class Router(DefaultRouter):
    include_root_view = True
    include_format_suffixes = False  # JSON only: no "/accounts/1.json" variants to document and secure


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
@schema(None)
def not_found(request, path: str = ""):  # type: ignore[no-untyped-def]
    """Unknown URLs under /api/ answer like the rest of the API: JSON, not the site's HTML 404 page."""
    raise NotFound("No such API endpoint.")


router = Router()
router.register("accounts", views_crm.AccountViewSet, basename="api-account")
router.register("contacts", views_crm.ContactViewSet, basename="api-contact")
router.register("products", views_crm.ProductViewSet, basename="api-product")
router.register("interactions", views_crm.InteractionViewSet, basename="api-interaction")
router.register("cases", views_crm.CaseViewSet, basename="api-case")
router.register("survey-answers", views_crm.SurveyAnswerViewSet, basename="api-survey-answer")
router.register("leads", views_crm.LeadViewSet, basename="api-lead")
router.register("snapshots", views_profitability.SnapshotViewSet, basename="api-snapshot")
router.register("tiers", views_profitability.TierViewSet, basename="api-tier")
router.register("opportunities", views_campaigns.OpportunityViewSet, basename="api-opportunity")
router.register("loyalty/programs", views_campaigns.LoyaltyProgramViewSet, basename="api-loyalty-program")
router.register("loyalty/enrolments", views_campaigns.EnrolmentViewSet, basename="api-enrolment")
router.register("loyalty/ledger", views_campaigns.LedgerEntryViewSet, basename="api-ledger-entry")

urlpatterns = [
    path("v1/", include(router.urls)),
    # The schema describes every field (financial ones marked), but only to logged-in users and tokens.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="api_schema"),
    # Swagger UI from drf-spectacular-sidecar's vendored files; its init script is a separate request, so the
    # page runs under the site's CSP (no inline scripts).
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(
        url_name="api_schema", template_name="crm/api/swagger_ui.html")), name="api_docs"),
    path("token/", views_pages.api_token, name="api_token"),
    re_path(r"^(?P<path>.*)$", not_found),
]
