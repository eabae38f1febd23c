"""The login rate limit: django-axes, for every login that comes in over HTTP."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginRateLimitBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for logins that arrive with a request.

    Every HTTP login passes its request (the login form, the admin, DRF's basic
    authentication), so each is counted and checked. A call without a request
    (`Client.login` in tests, a management command) cannot come from the network and has no
    client address to lock out: it is left to the next backend instead of failing.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
