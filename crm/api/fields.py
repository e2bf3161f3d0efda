"""Role-aware fields: the one mechanism that keeps money out of service staff's payloads.

A serializer lists its ``financial_fields`` (revenue, margin, cost, profit, CLV, CAC, ...). Unless the
requesting user may see financials (``crm.roles.can_see_financials``: account managers and admins), those
fields are dropped from the serializer itself — not blanked after the fact — so they are neither computed
nor sent, in lists, details and nested objects alike. Without a request in the context the fields are
dropped too (fail closed). The OpenAPI schema keeps them, marked optional and "omitted for service staff"
(see ``schema.RoleAwareAutoSchema``).
"""

from __future__ import annotations

from typing import Any

from crm.roles import can_see_financials

OMITTED_NOTE = "Omitted for service staff (no margin, cost, revenue or CLV figures)."


def shows_financials(context: dict[str, Any]) -> bool:
    view = context.get("view")
    if getattr(view, "swagger_fake_view", False):  # drf-spectacular building the schema: describe every field
        return True
    request = context.get("request")
    return request is not None and can_see_financials(request.user)


class FinancialFieldsMixin:
    financial_fields: tuple[str, ...] = ()

    def get_fields(self):  # type: ignore[no-untyped-def]
        fields = super().get_fields()  # type: ignore[misc]
        if self.financial_fields and not shows_financials(self.context):  # type: ignore[attr-defined]
            for name in self.financial_fields:
                fields.pop(name, None)
        return fields
