"""Swagger UI renders in a real Chromium under the site's Content Security Policy, offline (the
sidecar's files), with no CSP violation."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_under_the_csp(new_page: Any, live_server: Any) -> None:
    page = new_page()
    violations: list[str] = []
    failed: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = page.goto("/api/docs/")
    assert response.status == 200
    assert "script-src" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Symbiosis Exchange partner API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path")
    assert page.locator(".opblock").count() >= 38
    assert violations == []
    assert [url for url in failed if url.startswith(live_server.url)] == []
