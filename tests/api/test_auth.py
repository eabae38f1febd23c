"""Partner tokens (hashed, scoped, revocable, made in the portal), session authentication with
CSRF for the portal's JavaScript, and the throttle's counters on Redis."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from listings import services
from listings.exceptions import ApiTokenNotPermittedError, ApiTokenScopeInvalidError
from listings.models import ApiToken, Membership
from symbiosis.exceptions import ApplicationError
from tests.api.conftest import World, assert_error, client_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PUBLIC = "/api/v1/listings/public/"


def test_only_a_digest_of_the_token_is_stored(world: World) -> None:
    token = ApiToken.objects.get(organization=world.a.organization)
    secret = world.a.token
    assert secret.startswith(f"sx_{token.prefix}_")
    assert len(secret) > 50
    stored = " ".join(str(value) for value in ApiToken.objects.values_list().get(pk=token.pk))
    assert secret not in stored
    assert secret.split("_", 2)[2] not in stored
    assert len(token.digest) == 64


def test_token_use_is_recorded(world: World) -> None:
    assert client_for(world.a.token).get(PUBLIC).status_code == 200
    token = ApiToken.objects.get(organization=world.a.organization)
    assert token.last_used_at is not None


@pytest.mark.parametrize("change", ["revoked", "expired", "closed", "left", "inactive"])
def test_dead_tokens_fail(world: World, change: str) -> None:
    token = ApiToken.objects.get(organization=world.a.organization)
    if change == "revoked":
        services.api_token_revoke(token=token, by=world.a.user)
    elif change == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(1))
    elif change == "closed":
        world.a.organization.closed_at = timezone.now()
        world.a.organization.save()
    elif change == "left":
        Membership.objects.filter(user=world.a.user).delete()
    else:
        world.a.user.is_active = False
        world.a.user.save()
    assert_error(client_for(world.a.token).get(PUBLIC), 401, "authentication_failed")


def test_token_scopes_must_fit_the_owner(world: World) -> None:
    with pytest.raises(ApiTokenScopeInvalidError):
        services.api_token_create(
            user=world.a.user,
            name="x",
            kind=ApiToken.Kind.ORGANIZATION,
            organization=world.a.organization,
            scopes=["facilitate"],
        )
    with pytest.raises(ApiTokenScopeInvalidError):
        services.api_token_create(
            user=world.facilitator, name="x", kind=ApiToken.Kind.FACILITATOR, scopes=["write"]
        )
    with pytest.raises(ApiTokenNotPermittedError):
        services.api_token_create(
            user=world.a.user, name="x", kind=ApiToken.Kind.FACILITATOR, scopes=["read"]
        )
    member = MembershipFactory(organization=world.a.organization, role=Membership.Role.MEMBER)
    with pytest.raises(ApplicationError, match="administrator"):
        services.api_token_create(
            user=member.user,
            name="x",
            kind=ApiToken.Kind.ORGANIZATION,
            organization=world.a.organization,
            scopes=["read"],
        )


# --- the portal page -------------------------------------------------------------------------


def _page_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_token_page_creates_a_token_and_shows_the_secret_once(world: World) -> None:
    client = _page_client(world.a.user)
    page = client.get("/account/api-tokens/")
    assert page.status_code == 200
    assert b"API tokens" in page.content
    response = client.post(
        "/account/api-tokens/",
        {
            "action": "create",
            "name": "ERP sync",
            "owner": f"org-{world.a.organization.pk}",
            "scopes": ["read", "write"],
            "expires_in_days": "30",
        },
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(name="ERP sync")
    assert token.organization == world.a.organization
    assert token.scope_set == {"read", "write"}
    assert token.expires_at is not None
    secret = response.context["issued"].secret
    assert secret.encode() in response.content
    assert client_for(secret).get(PUBLIC).status_code == 200
    again = client.get("/account/api-tokens/")
    assert secret.encode() not in again.content
    assert f"sx_{token.prefix}_".encode() in again.content


def test_token_page_revokes(world: World) -> None:
    client = _page_client(world.a.user)
    token = ApiToken.objects.get(organization=world.a.organization)
    response = client.post("/account/api-tokens/", {"action": "revoke", "token": token.pk})
    assert response.status_code == 302
    assert_error(client_for(world.a.token).get(PUBLIC), 401, "authentication_failed")


def test_token_page_cannot_revoke_anothers_token(world: World) -> None:
    client = _page_client(world.b.user)
    token = ApiToken.objects.get(organization=world.a.organization)
    response = client.post("/account/api-tokens/", {"action": "revoke", "token": token.pk})
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    page = client.get("/account/api-tokens/")
    assert token.prefix.encode() not in page.content


def test_token_page_facilitator_token_and_bad_scopes(world: World) -> None:
    client = _page_client(world.facilitator)
    response = client.post(
        "/account/api-tokens/",
        {"action": "create", "name": "queue", "owner": "facilitator", "scopes": ["write"]},
    )
    assert response.status_code == 200
    assert response.context["issued"] is None
    assert response.context["form"].errors
    response = client.post(
        "/account/api-tokens/",
        {"action": "create", "name": "queue", "owner": "facilitator", "scopes": ["facilitate"]},
    )
    assert response.context["issued"].token.kind == ApiToken.Kind.FACILITATOR


def test_token_page_needs_a_login_and_is_linked_from_the_nav(world: World) -> None:
    assert Client().get("/account/api-tokens/").status_code == 302
    page = _page_client(world.a.user).get("/account/api-tokens/")
    assert b'href="/account/api-tokens/"' in page.content  # the nav link of base.html


def test_a_plain_user_cannot_create_tokens(db: Any) -> None:
    client = _page_client(UserFactory())
    page = client.get("/account/api-tokens/")
    assert page.context["can_create"] is False


# --- the session, for the portal's own JavaScript --------------------------------------------


def test_session_authentication_works_and_enforces_csrf(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.a.user)
    assert client.get(f"/api/v1/listings/offers/{world.a.offer.pk}/").status_code == 200
    url = f"/api/v1/listings/offers/{world.a.offer.pk}/update/"
    refused = client.patch(url, {"title": "From the page"}, format="json")
    assert "CSRF" in assert_error(refused, 403, "permission_denied")["detail"]
    client.get("/account/api-tokens/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.patch(url, {"title": "From the page"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 200
    assert accepted.json()["title"] == "From the page"


def test_a_bearer_token_needs_no_csrf(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.a.token}")
    url = f"/api/v1/listings/offers/{world.a.offer.pk}/update/"
    assert client.patch(url, {"title": "By token"}, format="json").status_code == 200


# --- throttling on Redis ---------------------------------------------------------------------


@pytest.fixture
def redis_cache() -> Any:
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/8").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    location = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/8",
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    with override_settings(CACHES={"default": location}):
        yield caches["default"]
        caches["default"].clear()


def test_throttle_counts_atomically_on_redis(world: World, redis_cache: Any, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"read": "2/h", "write": "2/h", "facilitate": "2/h"},
    }
    client = client_for(world.a.token)
    assert [client.get(PUBLIC).status_code for _ in range(3)] == [200, 200, 429]
    keys = list(redis_cache._cache.get_client().scan_iter(f"*{redis_cache.key_prefix}*"))
    assert len(keys) == 1
    assert 0 < redis_cache._cache.get_client().ttl(keys[0]) <= 3601
