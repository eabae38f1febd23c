"""Base classes of the partner API's views: thin adapters between HTTP and the apps' services
and selectors (STYLE.md B4)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from symbiosis.api import Caller, caller_of


class BaseApi(APIView):
    """One operation: ``InputSerializer`` → a service → ``OutputSerializer``."""

    @property
    def caller(self) -> Caller:
        return caller_of(self.request)

    @property
    def schema_only(self) -> bool:
        """True while drf-spectacular inspects the view with a request of nobody."""
        return getattr(self, "swagger_fake_view", False)


class SelectorListApi(ListAPIView, BaseApi):
    """A list read: ``get_queryset()`` returns a scoped selector's queryset, ``filterset_class``
    filters it (bad parameters are a 400), keyset pagination cuts one page, and ``project()``
    turns each row of the page into what ``OutputSerializer`` reads."""

    empty_model: Any = None  # what drf-spectacular sees (it has no caller)

    def get_serializer_class(self) -> Any:
        return self.OutputSerializer  # type: ignore[attr-defined]

    def get_queryset(self) -> QuerySet:
        if self.schema_only:
            return self.empty_model.objects.none()
        return self.selector()

    def selector(self) -> QuerySet:
        raise NotImplementedError

    def project(self, obj: Any) -> Any:
        return obj

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = [self.project(obj) for obj in page]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class SelectorDetailApi(RetrieveAPIView, BaseApi):
    """A read of one object: ``get_object()`` calls a scoped selector; None is a 404 (never a
    403: an id reveals nothing)."""

    def get_serializer_class(self) -> Any:
        return self.OutputSerializer  # type: ignore[attr-defined]

    def get_object(self) -> Any:
        from symbiosis.api import get_or_404

        return get_or_404(self.selector())

    def selector(self) -> Any:
        raise NotImplementedError

    def project(self, obj: Any) -> Any:
        return obj

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.project(self.get_object())).data)
