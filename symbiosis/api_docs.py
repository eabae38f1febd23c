"""OpenAPI helpers of the partner API: the schema class, the token's security scheme, the
error responses every operation documents and ``api_doc``, the house ``extend_schema``.

Kept apart from symbiosis/api.py, which DRF's settings name: importing drf-spectacular there
would import rest_framework.views while DRF is still reading those settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers

from symbiosis.api import error_body


class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "symbiosis.api.ApiTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sx_<prefix>_<secret>",
            "description": "A partner token from /account/api-tokens/, with its scopes.",
        }


class ApiSchema(AutoSchema):
    """Names operations and nested serializers after their view: ``OfferCreateApi`` is the
    operation ``OfferCreate`` and its ``OutputSerializer`` the component ``OfferCreateOutput``,
    so no two views' names collide."""

    def get_operation_id(self) -> str:
        """One class per operation: ``OfferCreateApi`` is the operation ``OfferCreate``."""
        return self.view.__class__.__name__.removesuffix("Api")

    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        cls = serializer.__class__
        parts = cls.__qualname__.split(".")
        if len(parts) >= 2 and parts[-2].endswith("Api"):
            return parts[-2].removesuffix("Api") + parts[-1].removesuffix("Serializer")
        return cls.__name__


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case code, e.g. invalid, not_found.")
    detail = serializers.CharField(help_text="A sentence for a person.")
    errors = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Per field (or per import row) messages; empty when the error has none.",
    )
    extra = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Facts of a domain error."
    )

    class Meta:
        ref_name = "Error"


_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("invalid", "The input is not valid.", "Bad input: `invalid`, or a domain code."),
    401: (
        "not_authenticated",
        "Authentication credentials were not provided.",
        "No credentials (`not_authenticated`) or a bad token (`authentication_failed`).",
    ),
    403: (
        "permission_denied",
        "Your token lacks the 'write' scope this operation needs.",
        "The token lacks the scope, or the caller the role (`permission_denied`).",
    ),
    404: (
        "not_found",
        "Not found.",
        "No such object among those the caller may see (`not_found`).",
    ),
    409: (
        "listing_closed",
        "The listing is closed and cannot be edited.",
        "The object's state forbids the change: a domain code.",
    ),
    429: (
        "throttled",
        "Request was throttled. Expected available in 12 seconds.",
        "Too many calls for this scope (`throttled`); see `Retry-After`.",
    ),
}
_EXAMPLE_ERRORS: dict[int, dict[str, Any]] = {
    400: {"title": ["This field is required."]},
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    description="Seconds to wait before the next call.",
    response=[429],
)


def error_responses(
    statuses: Iterable[int], codes: dict[int, Sequence[str]] | None = None
) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation, each with the error shape, the codes it
    may carry and an example."""
    result = {}
    for status in statuses:
        code, detail, description = _ERRORS[status]
        listed = list((codes or {}).get(status, ()))
        if listed:
            description += " Codes: " + ", ".join(f"`{c}`" for c in listed) + "."
            code = listed[0] if status in (409,) else code
        result[status] = OpenApiResponse(
            ErrorSerializer,
            description=description,
            examples=[
                OpenApiExample(
                    f"{status} {code}",
                    value=error_body(code, detail, _EXAMPLE_ERRORS.get(status)),
                    response_only=True,
                    status_codes=[str(status)],
                )
            ],
        )
    return result


READ_ERRORS = (400, 401, 403, 429)
OBJECT_ERRORS = (400, 401, 403, 404, 429)
WRITE_ERRORS = (400, 401, 403, 404, 409, 429)


def api_doc(
    *,
    summary: str,
    description: str,
    responses: Any,
    errors: Iterable[int] = READ_ERRORS,
    codes: dict[int, Sequence[str]] | None = None,
    request: Any = None,
    examples: Sequence[OpenApiExample] = (),
    parameters: Sequence[OpenApiParameter] = (),
    tags: Sequence[str] | None = None,
    operation_id: str | None = None,
    success: int = 200,
) -> Any:
    """``extend_schema`` with the house conventions: a summary, a description, examples, the
    error responses in the one error shape and ``Retry-After`` on 429."""
    all_responses = {success: responses, **error_responses(errors, codes)}
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses=all_responses,
        examples=list(examples),
        parameters=[*parameters, RETRY_AFTER],
        tags=list(tags) if tags else None,
        operation_id=operation_id,
    )
