"""The engine's figures (read-only, account managers and admins) and the service tiers (admins configure them
through ``profitability.configuration.tiers_save``: the tier page's validation, audit and recompute)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from profitability import configuration
from profitability.models import AccountSnapshot, Tier

from . import filters
from .base import ModelViewSet, ReadOnlyViewSet
from .permissions import ADMIN, EVERY_ROLE, MONEY_ROLES
from .serializers_profitability import SnapshotSerializer, TierSerializer


class SnapshotViewSet(ReadOnlyViewSet):
    """Each account's latest profitability figures, keyed by account id (account managers and admins)."""

    roles = {"read": MONEY_ROLES}
    serializer_class = SnapshotSerializer
    filterset_class = filters.SnapshotFilter
    ordering_fields = ["rank", "net_profit_ttm", "net_profit", "revenue_ttm", "clv_predictive", "computed_at",
                       "account"]
    ordering = ["account"]
    queryset = AccountSnapshot.objects.select_related("tier")


class TierViewSet(ModelViewSet):
    """Service tiers. Everybody reads the service levels; the bands are for account managers and admins.
    Admins add, change and remove tiers: the whole set is re-validated (bands cumulative, the last at 100 %),
    audited, and the book recomputed after commit."""

    roles = {"read": EVERY_ROLE, "write": (ADMIN,)}
    reauth_writes = True
    serializer_class = TierSerializer
    ordering_fields = ["position", "name"]
    ordering = ["position"]
    queryset = Tier.objects.all()
    filterset_fields: list[str] = []

    def _save(self, *, specs: list[configuration.TierSpec], remove: list[int], row: int | None) -> None:
        try:
            configuration.tiers_save(tiers=specs, remove=remove, actor=self.request.user)
        except configuration.ConfigurationError as rejected:
            errors: dict[str, list[str]] = {}
            for error in rejected.errors:
                if error.index is not None and error.index == row and error.field:
                    errors.setdefault(error.field, []).append(error.message)
                else:
                    about = f"{specs[error.index].name}: " if error.index is not None else ""
                    errors.setdefault("non_field_errors", []).append(about + error.message)
            raise ValidationError(errors) from rejected

    @staticmethod
    def _spec(data: dict[str, Any], base: configuration.TierSpec) -> configuration.TierSpec:
        changes = {k: v for k, v in data.items() if k in configuration.TierSpec.__dataclass_fields__}
        if "entitlement_list" in data:
            changes["entitlements"] = "\n".join(data["entitlement_list"])
        return replace(base, **changes)

    def perform_create(self, serializer) -> None:  # type: ignore[no-untyped-def]
        current = configuration.tier_specs_current()
        blank = configuration.TierSpec(None, "", None, None, None, None, None)
        spec = self._spec(serializer.validated_data, blank)
        self._save(specs=[*current, spec], remove=[], row=len(current))
        serializer.instance = Tier.objects.get(name=spec.name.strip())

    def perform_update(self, serializer) -> None:  # type: ignore[no-untyped-def]
        current = configuration.tier_specs_current()
        row = next((i for i, spec in enumerate(current) if spec.tier_id == serializer.instance.pk), None)
        if row is None:  # removed by another admin since this request looked it up
            raise NotFound()
        current[row] = self._spec(serializer.validated_data, current[row])
        self._save(specs=current, remove=[], row=row)
        serializer.instance = Tier.objects.get(pk=serializer.instance.pk)

    def destroy(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        tier = self.get_object()
        remaining = [spec for spec in configuration.tier_specs_current() if spec.tier_id != tier.pk]
        self._save(specs=remaining, remove=[tier.pk], row=None)
        return Response(status=status.HTTP_204_NO_CONTENT)
