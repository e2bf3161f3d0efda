"""OpenAPI details drf-spectacular cannot infer: role-dependent fields and the error responses every
endpoint can give (so schemathesis can hold each response to the schema, errors included)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from .fields import OMITTED_NOTE

DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
VALIDATION_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Invalid input. Keys are the fields (``non_field_errors`` for the whole object), values the "
    "messages; the bulk endpoint answers ``{\"errors\": [{\"index\", \"field\", \"message\"}]}``.",
)
UNSAFE = frozenset({"POST", "PUT", "PATCH"})


class RoleAwareAutoSchema(AutoSchema):
    """Financial fields are optional in responses and say that service staff do not receive them; every
    operation documents its 400/401/403/404/409/429 answers."""

    def _map_basic_serializer(self, serializer, direction):  # type: ignore[no-untyped-def]
        schema = super()._map_basic_serializer(serializer, direction)
        hidden = getattr(serializer, "financial_fields", ())
        if not hidden or direction != "response":
            return schema
        required = schema.get("required", [])
        for name in hidden:
            if name in required:
                required.remove(name)
            prop = schema.get("properties", {}).get(name)
            if isinstance(prop, dict) and "$ref" not in prop:
                prop["description"] = (prop.get("description", "") + " " + OMITTED_NOTE).strip()
        if "required" in schema and not required:
            del schema["required"]
        return schema

    def get_tags(self) -> list[str]:
        # Group the docs by resource ("accounts", "loyalty", ...), not by the "v1" every path starts with.
        parts = [p for p in self.path.split("/") if p and not p.startswith("{")]
        if len(parts) > 2 and parts[:2] == ["api", "v1"]:
            return [parts[2]]
        return super().get_tags()

    def _get_response_bodies(self, direction="response"):  # type: ignore[no-untyped-def]
        responses = super()._get_response_bodies(direction)
        extra = {
            "401": OpenApiResponse(DETAIL, description="Not logged in / no valid token."),
            "403": OpenApiResponse(DETAIL, description="Your role (or this object's owner) does not allow it."),
            "429": OpenApiResponse(DETAIL, description="Throttled: retry after the ``Retry-After`` seconds."),
        }
        # Query parameters (filters, page, ordering) are validated too, so reads can answer 400 as well.
        extra["400"] = VALIDATION_ERRORS
        extra["404"] = OpenApiResponse(DETAIL, description="No such object (or page), or not visible to you.")
        if self.method in UNSAFE:
            extra["415"] = OpenApiResponse(DETAIL, description="The body is not in a media type this endpoint takes.")
        if self.method in UNSAFE or self.method == "DELETE":
            extra["409"] = OpenApiResponse(DETAIL, description="Refused by a rule of the data (the detail says why).")
        for code, response in extra.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses
