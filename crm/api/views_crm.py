"""CRM records over REST: accounts, contacts, products, interactions (and their bulk load), cases, survey
answers and leads. Thin: role and object checks, then the same services the pages call."""

from __future__ import annotations

import os
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from crm.models import Account, AccountSourceId, Contact, Interaction, Lead, Product, ServiceCase, SurveyResponse
from crm.roles import Role, can_see_financials, has_role, may_log_complaint
from crm.services import interaction_log, survey_log
from crm.services.accounts import FIGURE_FIELDS
from crm.services.cases import case_assign, case_first_response, case_open, case_set_status
from crm.services.history import account_history_touch
from crm.services.interactions import DIRECT_COST_KINDS

from . import bulk_interactions as bulk
from . import filters
from . import serializers_crm as s
from .base import ModelViewSet, ReadOnlyViewSet
from .permissions import ADMIN, EVERY_ROLE, MONEY_ROLES, SERVICE, account_refusal

CENT = Decimal("0.01")


class BulkRateThrottle(UserRateThrottle):
    """The bulk endpoint writes up to 5,000 rows a call: a stricter budget of its own (``API_BULK_RATE``)."""

    scope = "interactions_bulk"
    default_rate = "120/hour"

    def get_rate(self) -> str:
        # Read the settings now (not the class attribute bound at import), so an override applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or os.environ.get("API_BULK_RATE",
                                                                                     self.default_rate)


# --- accounts -----------------------------------------------------------------------------------------------


class AccountViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, ReadOnlyViewSet):
    """Accounts. Everybody reads; account managers create accounts (which they then own) and change the ones
    they own; admins create and change any.

    Service staff get the tier but no figures (rank, revenue, profit, CLV)."""

    roles = {"read": EVERY_ROLE, "write": MONEY_ROLES}
    serializer_class = s.AccountSerializer
    filterset_class = filters.AccountFilter
    ordering = ["name", "id"]
    queryset = (
        Account.objects.select_related("owner", "snapshot__tier")
        .prefetch_related(Prefetch("source_ids", queryset=AccountSourceId.objects.order_by("source_system")))
    )

    @property
    def ordering_fields(self) -> list[str]:  # type: ignore[override]
        # Sorting by a figure would leak it: service staff sort by the plain fields only.
        plain = ["name", "created_at", "updated_at", "acquired_on", "id"]
        return plain + (["snapshot__rank", "snapshot__net_profit_ttm"] if can_see_financials(self.request.user) else [])

    def may_change(self, user, account) -> str:  # type: ignore[no-untyped-def]
        return account_refusal(user, account, "the account")

    @transaction.atomic
    def perform_create(self, serializer) -> None:  # type: ignore[no-untyped-def]
        # As on the account form: an account manager's new account is their own, and it is computed at once.
        account = serializer.save() if has_role(self.request.user, Role.ADMIN) else serializer.save(
            owner=self.request.user)
        account_history_touch(account_ids=[account.pk])

    @transaction.atomic
    def perform_update(self, serializer) -> None:  # type: ignore[no-untyped-def]
        # As on the account form: a change of what the figures read of the account asks for a recompute.
        before = {name: getattr(serializer.instance, name) for name in FIGURE_FIELDS}
        account = serializer.save()
        if any(getattr(account, name) != value for name, value in before.items()):
            account_history_touch(account_ids=[account.pk])


# --- contacts and products ----------------------------------------------------------------------------------


class ContactViewSet(ModelViewSet):
    """Contacts. Everybody reads; the account's manager and admins add, change and delete them."""

    roles = {"read": EVERY_ROLE, "write": MONEY_ROLES}
    serializer_class = s.ContactSerializer
    filterset_class = filters.ContactFilter
    ordering_fields = ["name", "email", "id"]
    ordering = ["name", "id"]
    queryset = Contact.objects.select_related("account__owner")

    def may_change(self, user, contact) -> str:  # type: ignore[no-untyped-def]
        return account_refusal(user, contact.account, "contacts")

    def _check_account(self, serializer) -> None:  # type: ignore[no-untyped-def]
        account = serializer.validated_data.get("account")
        if account is not None and (reason := account_refusal(self.request.user, account, "contacts")):
            raise PermissionDenied(reason)

    def perform_create(self, serializer) -> None:  # type: ignore[no-untyped-def]
        self._check_account(serializer)
        serializer.save()

    def perform_update(self, serializer) -> None:  # type: ignore[no-untyped-def]
        self._check_account(serializer)
        serializer.save()


class ProductViewSet(ModelViewSet):
    """The product catalogue. Everybody reads (service staff without unit costs); admins maintain it."""

    roles = {"read": EVERY_ROLE, "write": (ADMIN,)}
    serializer_class = s.ProductSerializer
    filterset_class = filters.ProductFilter
    ordering_fields = ["sku", "name", "family", "tier_in_family", "list_price"]
    ordering = ["family", "tier_in_family", "name", "id"]
    queryset = Product.objects.all()


# --- interactions -------------------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(description="Log one interaction (as on the account page: the account's manager or an "
                                     "admin). Surveys and complaints have their own endpoints."),
)
class InteractionViewSet(ModelViewSet):
    """Interactions. Everybody reads (service staff without amounts or costs); the account's manager and admins
    log, correct and delete them. Every change bumps the account's history and triggers a recompute."""

    roles = {"read": EVERY_ROLE, "write": MONEY_ROLES}
    serializer_class = s.InteractionSerializer
    filterset_class = filters.InteractionFilter
    ordering_fields = ["occurred_at", "created_at", "updated_at", "id"]
    ordering = ["-occurred_at", "-id"]
    queryset = Interaction.objects.select_related("account__owner")

    def get_throttles(self):  # type: ignore[no-untyped-def]
        if self.action == "bulk":
            return [*super().get_throttles(), BulkRateThrottle()]
        return super().get_throttles()

    def may_change(self, user, interaction) -> str:  # type: ignore[no-untyped-def]
        return account_refusal(user, interaction.account, "interactions")

    def perform_create(self, serializer) -> None:  # type: ignore[no-untyped-def]
        data = serializer.validated_data
        account = data["account"]
        if reason := account_refusal(self.request.user, account, "interactions"):
            raise PermissionDenied(reason)
        with transaction.atomic():
            interaction = interaction_log(
                account=account, logged_by=self.request.user, kind=data["kind"], occurred_at=data["occurred_at"],
                channel=data.get("channel", Interaction._meta.get_field("channel").default),
                amount=data.get("amount"), direct_cost=data.get("direct_cost"), product=data.get("product"),
                quantity=data.get("quantity"), note=data.get("note", ""),
            )
            if data.get("due_on") is not None:
                # interaction_log has no due date; set it in the same transaction, before the recompute runs.
                Interaction.objects.filter(pk=interaction.pk).update(due_on=data["due_on"])
                interaction.due_on = data["due_on"]
        serializer.instance = interaction

    def perform_update(self, serializer) -> None:  # type: ignore[no-untyped-def]
        data = serializer.validated_data
        if "account" in data and (reason := account_refusal(self.request.user, data["account"], "interactions")):
            raise PermissionDenied(reason)
        instance = serializer.instance
        kind = data.get("kind", instance.kind)
        product = data.get("product", instance.product)
        quantity = data.get("quantity", instance.quantity)
        if data.get("direct_cost", "given") is None:
            data["direct_cost"] = (product.unit_cost * quantity if kind in DIRECT_COST_KINDS and product
                                   and quantity is not None else Decimal("0"))
        if "amount" in data and data["amount"] is None:
            data["amount"] = Decimal("0")
        for name in ("amount", "direct_cost"):
            if name in data:
                data[name] = data[name].quantize(CENT)
        serializer.save()  # Model.save(): the signal bumps both the old and the new account's history

    @extend_schema(
        request=s.InteractionBulkItemSerializer(many=True),
        responses={200: s.BulkResultSerializer, 400: OpenApiResponse(
            s.BulkErrorsSerializer, description="Nothing was written: every error with its item "
            "index and field, under ``errors``.")},
        description=(f"Load up to {bulk.MAX_ITEMS:,} interactions at once, all or nothing. Each item is keyed "
                     "by `source_system` + `external_id`: posting it again updates it if it changed, else "
                     "keeps it, so retries never duplicate. Account managers load only onto their own accounts. "
                     "The accounts' figures are recomputed once for the whole load."),
    )
    @action(detail=False, methods=["post"], url_path="bulk", parser_classes=[JSONParser])
    def bulk(self, request):  # type: ignore[no-untyped-def]
        try:
            try:
                payload = request.data
            except ParseError as error:  # answer malformed JSON in the endpoint's own error shape
                raise bulk.BulkRejected([bulk.BulkError(None, None, str(error.detail))]) from error
            items = bulk.bulk_items_parse(payload)
            result = bulk.interactions_bulk_upsert(
                items=items, actor=request.user,
                refusal=lambda account: account_refusal(request.user, account, "interactions"),
            )
        except bulk.BulkRejected as rejected:
            return Response({"errors": [e.__dict__ for e in rejected.errors]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(s.BulkResultSerializer(result).data)


# --- service cases ------------------------------------------------------------------------------------------


SERVICE_DESK = (SERVICE, ADMIN)


class CaseViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """Service cases. Everybody reads. Service staff, admins and the account's own manager open complaints;
    service staff and admins take, answer and move them (one conditional update each: races are refused)."""

    roles = {"read": EVERY_ROLE, "create": EVERY_ROLE, "assign": SERVICE_DESK, "set_status": SERVICE_DESK,
             "first_response": SERVICE_DESK}
    serializer_class = s.CaseSerializer
    filterset_class = filters.CaseFilter
    ordering_fields = ["opened_at", "resolution_due_at", "first_response_due_at", "urgency", "id"]
    ordering = ["-opened_at", "-id"]
    queryset = ServiceCase.objects.all()

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return {"create": s.CaseOpenSerializer, "set_status": s.CaseStatusSerializer,
                "first_response": s.CaseResponseSerializer}.get(self.action, s.CaseSerializer)

    @extend_schema(request=s.CaseOpenSerializer, responses={201: s.CaseSerializer})
    def create(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        form = s.CaseOpenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if not may_log_complaint(request.user, data["account"]):
            raise PermissionDenied("Complaints on this account are logged by its account manager, service staff "
                                   "or admins.")
        case = case_open(opened_by=request.user, **data)
        # Read back: the SLA due times were set from the account's tier once the case committed.
        return Response(s.CaseSerializer(ServiceCase.objects.get(pk=case.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):  # type: ignore[no-untyped-def]
        case = case_assign(case=self.get_object(), user=request.user)
        return Response(s.CaseSerializer(ServiceCase.objects.get(pk=case.pk)).data)

    @extend_schema(request=s.CaseStatusSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):  # type: ignore[no-untyped-def]
        case = self.get_object()
        form = s.CaseStatusSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        case_set_status(case=case, status=form.validated_data["status"], by=request.user)
        return Response(s.CaseSerializer(ServiceCase.objects.get(pk=case.pk)).data)

    @extend_schema(request=s.CaseResponseSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"], url_path="first-response")
    def first_response(self, request, pk=None):  # type: ignore[no-untyped-def]
        case = self.get_object()
        form = s.CaseResponseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        case_first_response(case=case, by=request.user, **form.validated_data)
        return Response(s.CaseSerializer(ServiceCase.objects.get(pk=case.pk)).data)


# --- survey answers and leads -------------------------------------------------------------------------------


class SurveyAnswerViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """NPS answers. Everybody reads; the account's manager and admins record them (with their survey
    interaction, as on the account page)."""

    roles = {"read": EVERY_ROLE, "create": MONEY_ROLES}
    serializer_class = s.SurveyAnswerSerializer
    filterset_class = filters.SurveyAnswerFilter
    ordering_fields = ["answered_at", "score", "id"]
    ordering = ["-answered_at", "-id"]
    queryset = SurveyResponse.objects.all()

    def get_serializer_context(self):  # type: ignore[no-untyped-def]
        context = super().get_serializer_context()
        context["survey_interactions"] = getattr(self, "_survey_interactions", {})
        return context

    def paginate_queryset(self, queryset):  # type: ignore[no-untyped-def]
        page = super().paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        # The answer and its survey interaction share the external id: one query for the whole page.
        self._survey_interactions = dict(
            Interaction.objects.filter(kind="survey", external_id__in=[r.external_id for r in rows],
                                       source_system__in={r.source_system for r in rows})
            .values_list("external_id", "pk")
        )
        return page

    def retrieve(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        answer = self.get_object()
        self._survey_interactions = dict(Interaction.objects.filter(
            kind="survey", source_system=answer.source_system, external_id=answer.external_id,
        ).values_list("external_id", "pk"))
        return Response(self.get_serializer(answer).data)

    def perform_create(self, serializer) -> None:  # type: ignore[no-untyped-def]
        data = dict(serializer.validated_data)
        account = data.pop("account")
        if reason := account_refusal(self.request.user, account, "survey answers"):
            raise PermissionDenied(reason)
        serializer.instance = survey_log(account=account, logged_by=self.request.user, **data)


class LeadViewSet(ModelViewSet):
    """Leads (MQL → SQL → won/lost). Account managers and admins read all; managers add leads for themselves
    and change the ones they own; admins change any and delete."""

    roles = {"read": MONEY_ROLES, "write": MONEY_ROLES, "destroy": (ADMIN,)}
    serializer_class = s.LeadSerializer
    filterset_class = filters.LeadFilter
    ordering_fields = ["mql_at", "sql_at", "closed_at", "expected_value", "company_name", "id"]
    ordering = ["-mql_at", "-id"]
    queryset = Lead.objects.all()

    def may_change(self, user, lead) -> str:  # type: ignore[no-untyped-def]
        if has_role(user, Role.ADMIN) or lead.owner_id == user.pk:
            return ""
        return "Only the lead's owner or an admin can change it."

    def _check_owner(self, serializer) -> None:  # type: ignore[no-untyped-def]
        owner = serializer.validated_data.get("owner", getattr(serializer.instance, "owner", None))
        if not has_role(self.request.user, Role.ADMIN) and (owner is None or owner.pk != self.request.user.pk):
            raise PermissionDenied("Account managers add and keep leads under their own name; admins reassign.")

    def perform_create(self, serializer) -> None:  # type: ignore[no-untyped-def]
        if not has_role(self.request.user, Role.ADMIN) and "owner" not in serializer.validated_data:
            serializer.validated_data["owner"] = self.request.user
        self._check_owner(serializer)
        serializer.save()

    def perform_update(self, serializer) -> None:  # type: ignore[no-untyped-def]
        self._check_owner(serializer)
        serializer.save()

