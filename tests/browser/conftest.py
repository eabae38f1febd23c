"""Playwright fixtures: Debian's Chromium, one browser per session, a fresh context per test.

The browser tests drive the real portal (pytest-django's `live_server`, a threaded WSGI server on
the test database) in a real Chromium. They skip, saying why, only when /usr/bin/chromium is
absent on a developer's machine; under CI (the CI environment variable is set) a missing
Chromium fails them instead, so that CI can never skip them silently. `.ci/run` installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
PASSWORD = "browser-tests-pw"  # a throwaway password of users made by these tests


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = (
            f"{CHROMIUM} is absent: install Debian's Chromium (apt-get install chromium) to run "
            "the browser tests"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; under CI they must run, not skip", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio event loop running in the main thread, and Django
    # then refuses ORM calls there (SynchronousOnlyOperation). The tests call the ORM only
    # synchronously, between browser calls, so Django's documented escape hatch is safe; it is
    # set only while the browser lives.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """Make pages, each in a fresh browser context (its own cookies), closed after the test."""
    contexts = []

    def make(*, locale: str = "en-GB"):
        context = browser.new_context(
            base_url=live_server.url,
            locale=locale,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    page.goto(reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".who").is_visible(), f"{username} is not logged in: {page.url}"


def make_user(username: str, first: str, last: str) -> User:
    return User.objects.create_user(
        username=username,
        password=PASSWORD,
        email=f"{username}@example.com",
        first_name=first,
        last_name=last,
    )
