"""Opportunities and loyalty over REST, through the campaigns services (the pages' rules and audit).

Service staff read loyalty status (programs, enrolments, balances, the ledger) but configure nothing; points
move only through ``campaigns.services.loyalty`` (redeem, adjust), which keeps every balance at zero or above.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Sum
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from campaigns.forms import LoyaltyProgramForm, RewardFormSet, RuleFormSet
from campaigns.models import EarningRule, Enrolment, LedgerEntry, LoyaltyProgram, Opportunity, Reward
from campaigns.services import loyalty
from campaigns.services.opportunities import opportunity_set_status
from crm.models import Account

from . import filters
from . import serializers_campaigns as s
from .base import ReadOnlyViewSet
from .permissions import ADMIN, EVERY_ROLE, MONEY_ROLES, account_refusal


class OpportunityViewSet(ReadOnlyViewSet):
    """Upsell and cross-sell opportunities (account managers and admins). Status changes follow the pages'
    transitions (open → pursued → won, dismiss, reopen) and only the account's manager or an admin makes them."""

    roles = {"read": MONEY_ROLES, "set_status": MONEY_ROLES}
    serializer_class = s.OpportunitySerializer
    filterset_class = filters.OpportunityFilter
    ordering_fields = ["expected_margin", "probability", "generated_at", "status_changed_at", "id"]
    ordering = ["-expected_margin", "id"]
    queryset = Opportunity.objects.select_related("account__owner")

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.OpportunityStatusSerializer if self.action == "set_status" else s.OpportunitySerializer

    def may_change(self, user, opportunity) -> str:  # type: ignore[no-untyped-def]
        return account_refusal(user, opportunity.account, "opportunities")

    @extend_schema(request=s.OpportunityStatusSerializer, responses={200: s.OpportunitySerializer})
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):  # type: ignore[no-untyped-def]
        opportunity = self.get_object()
        form = s.OpportunityStatusSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        updated = opportunity_set_status(opportunity_id=opportunity.pk, status=form.validated_data["status"],
                                         actor=request.user)
        return Response(s.OpportunitySerializer(updated).data)


# --- programs ---------------------------------------------------------------------------------------------


def _formset_data(prefix: str, existing: list, items: list[dict] | None, fields: list[str]) -> tuple[dict, list]:
    """Formset POST data for ``items`` (the full new list); existing rows left out are marked for deletion.

    Returns the data and, per formset form, the index of the item it came from (None: a deletion).
    """
    by_id = {obj.pk: obj for obj in existing}
    data: dict[str, Any] = {}
    origin: list[int | None] = []
    unknown = [i for i, item in enumerate(items or []) if item.get("id") is not None and item["id"] not in by_id]
    if unknown:
        raise ValidationError({f"{prefix}[{i}].id": [f"Not a {prefix[:-1]} of this program."] for i in unknown})
    listed = {item["id"]: i for i, item in enumerate(items or []) if item.get("id") is not None}
    if items is None:  # not sent: keep them all as they are
        items, listed = [], {}
        keep = True
    else:
        keep = False
    forms: list[dict] = []
    for obj in existing:
        if obj.pk in listed:
            forms.append({**items[listed[obj.pk]], "id": obj.pk})
            origin.append(listed[obj.pk])
        else:
            current = {f: getattr(obj, f"{f}_id" if f == "upgrade_tier" else f) for f in fields}
            forms.append({**current, "id": obj.pk, **({} if keep else {"DELETE": "on"})})
            origin.append(None)
    for i, item in enumerate(items):
        if item.get("id") is None:
            forms.append(item)
            origin.append(i)
    for n, form in enumerate(forms):
        for key, value in form.items():
            if value is None or (key in ("active",) and value is False):
                continue
            data[f"{prefix}-{n}-{key}"] = value
    data.update({f"{prefix}-TOTAL_FORMS": len(forms), f"{prefix}-INITIAL_FORMS": len(existing)})
    return data, origin


def _formset_errors(prefix: str, formset, origin: list[int | None]) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    errors: dict[str, list[str]] = {}
    for n, form_errors in enumerate(formset.errors):
        where = f"{prefix}[{origin[n]}]" if origin[n] is not None else f"{prefix} (existing #{n})"
        for field, messages in form_errors.items():
            key = where if field == "__all__" else f"{where}.{field}"
            errors.setdefault(key, []).extend(messages)
    if formset.non_form_errors():
        errors.setdefault(prefix, []).extend(formset.non_form_errors())
    return errors


class LoyaltyProgramViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, ReadOnlyViewSet):
    """Loyalty programs with their earning rules and rewards. Everybody reads (service staff without the CLV
    threshold); admins create and change them, validated and saved (audited) exactly as on the program page."""

    roles = {"read": EVERY_ROLE, "write": (ADMIN,)}
    reauth_writes = True
    serializer_class = s.LoyaltyProgramSerializer
    filterset_class = filters.LoyaltyProgramFilter
    ordering_fields = ["name", "starts_on", "status", "id"]
    ordering = ["status", "name", "id"]
    queryset = LoyaltyProgram.objects.prefetch_related(
        "eligible_tiers", "eligible_segments",
        Prefetch("rules", queryset=EarningRule.objects.order_by("trigger")),
        Prefetch("rewards", queryset=Reward.objects.order_by("point_cost", "name")),
    )

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.LoyaltyProgramInputSerializer if self.action in ("create", "update", "partial_update") \
            else s.LoyaltyProgramSerializer

    @extend_schema(request=s.LoyaltyProgramInputSerializer, responses={201: s.LoyaltyProgramSerializer})
    def create(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        program = self._save(LoyaltyProgram(), request.data, partial=False)
        return Response(self._read(program), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.LoyaltyProgramInputSerializer, responses={200: s.LoyaltyProgramSerializer})
    def update(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        program = self._save(self.get_object(), request.data, partial=kwargs.get("partial", False))
        return Response(self._read(program))

    def _read(self, program: LoyaltyProgram) -> dict:
        return s.LoyaltyProgramSerializer(self.get_queryset().get(pk=program.pk),
                                          context=self.get_serializer_context()).data

    def _save(self, program: LoyaltyProgram, payload: Any, *, partial: bool) -> LoyaltyProgram:
        parsed = s.LoyaltyProgramInputSerializer(data=payload, partial=partial)
        parsed.is_valid(raise_exception=True)
        given = dict(parsed.validated_data)
        # Start from the program as it is (a new one: the model's defaults), then apply what was sent.
        data: dict[str, Any] = {}
        for field in LoyaltyProgramForm.Meta.fields:
            if field in ("eligible_tiers", "eligible_segments"):
                data[field] = [obj.pk for obj in getattr(program, field).all()] if program.pk else []
            else:
                data[field] = getattr(program, field)
        data.update({k: v for k, v in given.items() if k not in ("rules", "rewards")})
        form_data = {k: v for k, v in data.items() if v is not None and not (k == "auto_enrol" and v is False)}
        form = LoyaltyProgramForm(form_data, instance=program)
        rule_data, rule_origin = _formset_data(
            "rules", list(program.rules.order_by("pk")) if program.pk else [], given.get("rules"),
            ["trigger", "points"])
        reward_data, reward_origin = _formset_data(
            "rewards", list(program.rewards.order_by("pk")) if program.pk else [], given.get("rewards"),
            ["name", "kind", "point_cost", "discount_pct", "upgrade_tier", "upgrade_days", "active"])
        rules = RuleFormSet(rule_data, instance=program, prefix="rules", queryset=EarningRule.objects.order_by("pk"))
        rewards = RewardFormSet(reward_data, instance=program, prefix="rewards",
                                queryset=Reward.objects.order_by("pk"))
        valid = [form.is_valid(), rules.is_valid(), rewards.is_valid()]
        if not all(valid):
            errors = {("non_field_errors" if k == "__all__" else k): v for k, v in form.errors.items()}
            errors.update(_formset_errors("rules", rules, rule_origin))
            errors.update(_formset_errors("rewards", rewards, reward_origin))
            raise ValidationError(errors)
        return loyalty.program_save(form=form, rules=rules, rewards=rewards, actor=self.request.user)


# --- enrolments and the ledger --------------------------------------------------------------------------------


class EnrolmentViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """Accounts' loyalty memberships with their points balance. Everybody reads; the account's manager or an
    admin enrols it and redeems points; admins adjust balances. No balance ever goes below zero."""

    roles = {"read": EVERY_ROLE, "create": MONEY_ROLES, "redeem": MONEY_ROLES, "adjust": (ADMIN,)}
    serializer_class = s.EnrolmentSerializer
    filterset_class = filters.EnrolmentFilter
    ordering_fields = ["enrolled_at", "balance", "id"]
    ordering = ["-enrolled_at", "-id"]
    queryset = Enrolment.objects.select_related("account__owner").annotate(
        balance=Coalesce(Sum("entries__points"), 0))

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return {"redeem": s.RedeemSerializer, "adjust": s.AdjustSerializer}.get(self.action, s.EnrolmentSerializer)

    def may_change(self, user, enrolment) -> str:  # type: ignore[no-untyped-def]
        if self.action == "adjust":
            return ""
        return account_refusal(user, enrolment.account, "loyalty points")

    def _answer(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.EnrolmentSerializer(self.get_queryset().get(pk=pk)).data, status=code)

    def create(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        form = s.EnrolmentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        account: Account = form.validated_data["account"]
        if reason := account_refusal(request.user, account, "loyalty enrolments"):
            raise PermissionDenied(reason)
        enrolment = loyalty.enrolment_create(program=form.validated_data["program"], account=account,
                                             actor=request.user)
        return self._answer(enrolment.pk, status.HTTP_201_CREATED)

    @extend_schema(request=s.RedeemSerializer, responses={200: s.EnrolmentSerializer})
    @action(detail=True, methods=["post"])
    def redeem(self, request, pk=None):  # type: ignore[no-untyped-def]
        enrolment = self.get_object()
        form = s.RedeemSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        loyalty.points_redeem(enrolment_id=enrolment.pk, reward_id=form.validated_data["reward"], actor=request.user)
        return self._answer(enrolment.pk)

    @extend_schema(request=s.AdjustSerializer, responses={200: s.EnrolmentSerializer})
    @action(detail=True, methods=["post"])
    def adjust(self, request, pk=None):  # type: ignore[no-untyped-def]
        enrolment = self.get_object()
        form = s.AdjustSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        loyalty.points_adjust(enrolment_id=enrolment.pk, actor=request.user, **form.validated_data)
        return self._answer(enrolment.pk)


class LedgerEntryViewSet(ReadOnlyViewSet):
    """The append-only points ledger (read-only: points move through enrolments' redeem and adjust)."""

    roles = {"read": EVERY_ROLE}
    serializer_class = s.LedgerEntrySerializer
    filterset_class = filters.LedgerEntryFilter
    ordering_fields = ["occurred_at", "recorded_at", "points", "id"]
    ordering = ["-occurred_at", "-id"]
    queryset = LedgerEntry.objects.select_related("enrolment")
