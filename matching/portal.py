"""Request-level helpers of the facilitator portal: who facilitates, cached once per request.

A facilitator page is reachable only by a logged-in user who facilitates at least one harbour
region (staff: all). Anyone else gets a 404, never a 403, so the portal reveals nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from .selectors import facilitator_regions

_CACHE_ATTR = "_facilitator_regions"


def regions_for_request(request: HttpRequest) -> list[Any]:
    """The user's harbour regions, read once per request (the nav and the view share it)."""
    if not hasattr(request, _CACHE_ATTR):
        setattr(request, _CACHE_ATTR, facilitator_regions(user=request.user))
    return getattr(request, _CACHE_ATTR)


def facilitator_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Anonymous → the login page; logged in but facilitating no region → 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not regions_for_request(request):
            raise Http404
        return view(request, *args, **kwargs)

    return login_required(wrapper)
