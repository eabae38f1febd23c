"""Template context for the facilitator nav: at most one query per request, and none at all
for anonymous users or templates that never look at it."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .portal import regions_for_request


def facilitation(request: HttpRequest) -> dict[str, object]:
    return {"facilitator_regions": SimpleLazyObject(lambda: regions_for_request(request))}
