"""What every API view shares: role permission, role-aware schema, bounded pagination, and the mapping of
the services' refusals onto HTTP answers (a refusal is a 4xx that says why, never a 500)."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.pagination import PageNumberPagination

from campaigns.services.loyalty import LoyaltyError
from campaigns.services.opportunities import OpportunityError
from crm.roles import has_role
from crm.services.cases import CaseActionRefused
from profitability.configuration import ConfigurationError

from .permissions import RolePermission, roles_for
from .schema import RoleAwareAutoSchema


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with the current data."
    default_code = "conflict"


def django_errors(error: DjangoValidationError) -> Any:
    """A Django ``ValidationError`` as DRF's error shape (``__all__`` becomes ``non_field_errors``)."""
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": error.messages}


class RoleScopedMixin:
    # Base of every API view set: ``roles`` per action, ``scope`` the queryset per user. (A comment: the
    # schema would otherwise use it as the description of views without a docstring.)

    permission_classes = [RolePermission]
    pagination_class = Pagination
    schema = RoleAwareAutoSchema()
    roles: dict = {}
    # Any id reaches the view (and gets a JSON 404 if it names nothing), not only the router's default
    # "no dots" pattern: "/cases/0.5/" must not fall through to Django's HTML 404 page.
    lookup_value_regex = r"[^/]+"

    def scope(self, queryset):  # type: ignore[no-untyped-def]
        """The rows the user may see. Every role that reads a resource reads all of its rows (account managers
        read each other's accounts, as on the pages); a user without a read role sees none — a second line
        behind the permission class, so a misrouted action can never list rows it should not."""
        if not has_role(self.request.user, *roles_for(self, "list", "GET")):  # type: ignore[attr-defined]
            return queryset.none()
        return queryset

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return self.scope(super().get_queryset())  # type: ignore[misc]

    def handle_exception(self, exc: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exc, DjangoValidationError):
            exc = serializers.ValidationError(django_errors(exc))
        elif isinstance(exc, ConfigurationError):
            errors: dict[str, list[str]] = {}
            for error in exc.errors:
                errors.setdefault(error.field or "non_field_errors", []).append(error.message)
            exc = serializers.ValidationError(errors)
        elif isinstance(exc, CaseActionRefused | LoyaltyError | OpportunityError):
            exc = Conflict(str(exc))
        elif isinstance(exc, ProtectedError):
            exc = Conflict("Other records still refer to this one, so it cannot be deleted.")
        elif isinstance(exc, IntegrityError):
            # A race past validation (two writers, one unique key): say so instead of a 500.
            exc = Conflict("The change conflicts with a concurrent change or a rule of the data; nothing was saved.")
        return super().handle_exception(exc)  # type: ignore[misc]


class ReadOnlyViewSet(RoleScopedMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ModelViewSet(RoleScopedMixin, viewsets.ModelViewSet):
    pass


class ConstraintsValidatedMixin:
    # Runs the model's constraints (check and unique) on the would-be row before saving it, so a violated
    # rule is a 400 naming it rather than an IntegrityError. (A comment, not a docstring: drf-spectacular
    # would show a docstring as the description of every serializer using the mixin.)

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        attrs = super().validate(attrs)  # type: ignore[misc]
        model = self.Meta.model  # type: ignore[attr-defined]
        candidate = copy.copy(self.instance) if self.instance is not None else model()  # type: ignore[attr-defined]
        many = {f.name for f in model._meta.many_to_many}
        for name, value in attrs.items():
            if name not in many:
                setattr(candidate, name, value)
        try:
            candidate.validate_constraints()
        except DjangoValidationError as error:
            raise serializers.ValidationError(django_errors(error)) from error
        return attrs
