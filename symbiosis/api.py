"""Wiring of the partner REST API (/api/v1/): authentication, scopes, throttling, pagination, the
one error shape and the OpenAPI helpers. No domain code: the endpoints call the apps' services
and selectors.

- **Callers.** A bearer token (``listings.ApiToken``) belongs to an organisation or to a
  facilitator and carries scopes (read, write, facilitate); the portal's own JavaScript uses the
  session, with CSRF enforced, and has every scope. ``caller_of(request)`` says which
  organisations the caller acts for; tenant scoping itself lives in the selectors.
- **Scopes.** A safe method needs ``read``, any other ``write``; a view may name another scope
  (``required_scope = "facilitate"``).
- **Throttling.** A fixed-window counter per caller and scope: one atomic INCR (with its expiry,
  in one round trip) on Redis when ``DJANGO_CACHE_URL`` is set. Over the limit: 429 with
  ``Retry-After``. Hard limits still belong at the proxy (DESIGN.md, "Security and trust").
- **Errors.** Every error is ``{"code", "detail", "errors"}`` (plus ``extra`` for a domain
  error's facts): ``invalid`` with ``errors`` keyed by field, ``not_found``,
  ``permission_denied``, ``not_authenticated``, ``authentication_failed``, ``throttled``, and the
  ``code`` of each ``ApplicationError``. Anything unexpected stays a 500, with nothing leaked.
- **Pagination.** Keyset (cursor) pagination with a stable ordering and a signed cursor: no
  count, no OFFSET beyond a small tie-break, and a cursor cannot be forged.
"""

from __future__ import annotations

import json
import logging
import time
from base64 import b64decode, b64encode
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib import parse

from django.contrib.auth.models import User
from django.core import signing
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.utils.urls import replace_query_param

from listings.importing import ImportFileError, ImportRejectedError
from listings.models import ApiToken
from symbiosis.exceptions import ApplicationError

logger = logging.getLogger("symbiosis.audit")

ALL_SCOPES = frozenset(ApiToken.Scope.values)
MAX_ID = 2**63 - 1  # the largest primary key; a bigger one is simply not found


# --- callers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the user the call acts as, the token (None for a session), the scopes
    and the organisations whose data the call may touch."""

    user: User
    token: ApiToken | None
    scopes: frozenset[str]
    organization_ids: tuple[int, ...]

    @property
    def is_organization(self) -> bool:
        return bool(self.organization_ids)


def caller_of(request: Request) -> Caller:
    """The caller of an authenticated request, computed once per request."""
    cached = getattr(request, "_symbiosis_caller", None)
    if cached is not None:
        return cached
    from matching.selectors import organization_ids_for_user

    token = request.auth if isinstance(request.auth, ApiToken) else None
    if token is not None:
        caller = Caller(
            user=request.user,
            token=token,
            scopes=token.scope_set,
            organization_ids=(token.organization_id,) if token.organization_id else (),
        )
    else:
        caller = Caller(
            user=request.user,
            token=None,
            scopes=ALL_SCOPES,
            organization_ids=tuple(organization_ids_for_user(user=request.user)),
        )
    request._symbiosis_caller = caller
    return caller


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer sx_<prefix>_<secret>``. One query finds the token by its prefix
    with its user, organisation and the membership that still backs it."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        from listings.selectors import api_token_get_valid
        from listings.services import api_token_touch

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send 'Bearer <token>'."
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = api_token_get_valid(raw=raw)
        if token is None:
            logger.warning(
                "denied: invalid API token from %s on %s",
                request.META.get("REMOTE_ADDR"),
                request.path,
            )
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


# --- scopes and throttling -------------------------------------------------------------------


def required_scope(request: Request, view: Any) -> str:
    scope = getattr(view, "required_scope", None)
    if scope:
        return scope
    return ApiToken.Scope.READ if request.method in SAFE_METHODS else ApiToken.Scope.WRITE


class HasScope(BasePermission):
    """The token carries the scope the operation needs (a session has them all)."""

    message = "Your token lacks the scope this operation needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        scope = required_scope(request, view)
        if scope in caller_of(request).scopes:
            return True
        self.message = f"Your token lacks the '{scope}' scope this operation needs."
        return False


class IsOrganizationCaller(BasePermission):
    """The caller acts for an organisation (an organisation token, or a member's session)."""

    message = "Only an organisation's token (or a member's session) can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) and (
            caller_of(request).is_organization
        )


def _parse_rate(rate: str) -> tuple[int, int]:
    number, period = rate.split("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0].lower()]
    return int(number), seconds


class ScopeThrottle(BaseThrottle):
    """At most N calls per period per caller and scope (``DEFAULT_THROTTLE_RATES``).

    A fixed window: the key names the caller, the scope and the window's index, and its
    counter goes up by an atomic INCR. On Redis the INCR and the key's expiry go in one
    round trip; elsewhere (a per-process memory cache) add-then-incr does.
    """

    def __init__(self) -> None:
        self._wait: float | None = None

    def _scope_and_ident(self, request: Request, view: Any) -> tuple[str, str]:
        if request.user and request.user.is_authenticated:
            scope = getattr(view, "throttle_scope", None) or required_scope(request, view)
            token = request.auth if isinstance(request.auth, ApiToken) else None
            return scope, f"t{token.pk}" if token is not None else f"u{request.user.pk}"
        return "anon", f"a{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        scope, ident = self._scope_and_ident(request, view)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if not rate:
            return True
        limit, period = _parse_rate(rate)
        now = time.time()
        window = int(now // period)
        count = _count(f"api-throttle:{scope}:{ident}:{window}", period + 1)
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return self._wait


def _count(key: str, timeout: int) -> int:
    """Add one to the counter ``key`` (created with ``timeout``) and return its value."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        redis_key = backend.make_and_validate_key(key)
        # Django's RedisCache has no atomic incr-with-expiry; its client does.
        client = backend._cache.get_client(redis_key, write=True)
        pipe = client.pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, timeout, nx=True)
        value, _ = pipe.execute()
        return int(value)
    if backend.add(key, 1, timeout=timeout):
        return 1
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.add(key, 1, timeout=timeout)
        return 1


# --- input -----------------------------------------------------------------------------------


class StrictJSONParser(JSONParser):
    """JSON that PostgreSQL can store: no lone surrogates (NaN and Infinity are refused by
    DRF's strict parsing already)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError(
                "JSON parse error - the text is not valid Unicode."
            ) from None
        return data


def object_id(value: Any) -> int | None:
    """A path id as an int, or None when it cannot be a primary key (so: not found)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def get_or_404[T](obj: T | None) -> T:
    if obj is None:
        raise exceptions.NotFound()
    return obj


# --- pagination ------------------------------------------------------------------------------


class KeysetPagination(CursorPagination):
    """Cursor pagination on the view's ``cursor_ordering`` (default newest id first).

    The cursor is signed, so a caller cannot forge a position; a bad cursor or page size is a
    400 ``invalid``. Never counts the table.
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-id",)
    signer_salt = "symbiosis.api.cursor"

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        return tuple(getattr(view, "cursor_ordering", self.ordering))

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        maximum = getattr(self, "_max_page_size", None) or self.max_page_size
        if not raw.isdigit() or not 1 <= int(raw) <= maximum:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"Give a whole number from 1 to {maximum}."]}
            )
        return int(raw)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self._max_page_size = getattr(view, "max_page_size", None)
        return super().paginate_queryset(queryset, request, view)

    def encode_cursor(self, cursor: Cursor) -> str:
        tokens: dict[str, str] = {}
        if cursor.offset != 0:
            tokens["o"] = str(cursor.offset)
        if cursor.reverse:
            tokens["r"] = "1"
        if cursor.position is not None:
            tokens["p"] = cursor.position
        encoded = b64encode(parse.urlencode(tokens).encode()).decode("ascii")
        signed = signing.Signer(salt=self.signer_salt).sign(encoded)
        return replace_query_param(self.base_url, self.cursor_query_param, signed)

    def decode_cursor(self, request: Request) -> Cursor | None:
        signed = request.query_params.get(self.cursor_query_param)
        if signed is None:
            return None
        invalid = exceptions.ValidationError(
            {self.cursor_query_param: ["Invalid cursor: use the next or previous link as given."]}
        )
        try:
            encoded = signing.Signer(salt=self.signer_salt).unsign(signed)
            tokens = parse.parse_qs(b64decode(encoded).decode(), keep_blank_values=True)
            offset = int(tokens.get("o", ["0"])[0])
            reverse = bool(int(tokens.get("r", ["0"])[0]))
            position = tokens.get("p", [None])[0]
        except (signing.BadSignature, ValueError, TypeError):
            raise invalid from None
        if not 0 <= offset <= self.offset_cutoff:
            raise invalid
        return Cursor(offset=offset, reverse=reverse, position=position)


class ReferencePagination(KeysetPagination):
    """Reference tables are small: a caller may take up to 1000 rows a page."""

    max_page_size = 1000


# --- errors ----------------------------------------------------------------------------------


def error_body(
    code: str,
    detail: str,
    errors: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail, "errors": errors or {}}
    if extra:
        body["extra"] = extra
    return body


def _application_error(exc: ApplicationError) -> Response:
    extra = dict(exc.extra)
    errors: dict[str, Any] = {}
    if isinstance(exc, ImportRejectedError):
        by_row: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for error in exc.errors:
            by_row[str(error.row)][error.column].append(error.reason)
        errors = {row: dict(columns) for row, columns in by_row.items()}
        extra.pop("errors", None)
    elif isinstance(exc, ImportFileError):
        errors = {"file": [exc.message]}
    elif "field" in extra:
        errors = {str(extra.pop("field")): [exc.message]}
    return Response(error_body(exc.code, exc.message, errors, extra), status=exc.http_status)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error in one shape: ``{"code", "detail", "errors"}`` (``extra`` optional)."""
    # Imported here: this module is named in DRF's settings, which rest_framework.views reads.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ApplicationError):
        return _application_error(exc)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, IntegrityError):
        # The inputs are validated before any write; a constraint that still fails is a race
        # with another writer, not a server fault.
        logger.warning("conflict: %s", exc)
        return Response(
            error_body("conflict", "The change conflicts with another one; try again."),
            status=409,
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response  # unexpected: a 500, reported, with nothing leaked
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        errors = data if isinstance(data, dict) else {api_settings.NON_FIELD_ERRORS_KEY: data}
        response.data = error_body("invalid", "The input is not valid.", errors)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        if isinstance(exc, exceptions.PermissionDenied | exceptions.NotAuthenticated):
            logger.warning(
                "denied: %s %s by %s: %s",
                context["request"].method,
                context["request"].path,
                getattr(context["request"].user, "pk", None),
                exc.detail,
            )
        response.data = error_body(code, str(exc.detail))
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A 404 outside any view (no URL matched): JSON under /api/, the portal's page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def bad_request_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("invalid", "Bad request."), status=400)
    return defaults.bad_request(request, exception)


def server_error_handler(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("server_error", "Server error."), status=500)
    return defaults.server_error(request)
