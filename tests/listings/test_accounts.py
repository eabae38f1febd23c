"""Accounts: sign-up of a new organisation, log-in with its rate limit, password reset, log-out."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.contrib.auth.models import User
from django.urls import reverse

from harbors.models import HarborRegion
from listings.models import ListingStatus, Membership, Offer, Organization
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Ash-to-clinker-2026"


@pytest.fixture(autouse=True)
def _no_lockouts() -> None:
    """Start every test with no failed logins on record (they also roll back with the test)."""
    axes_reset()


def _signup_data(**changes: str) -> dict:
    return {
        "organization_name": "Kempen Cement NV",
        "country": "BE",
        "nace": "23.51",
        "website": "kempen-cement.example",
        "site_name": "Antwerp plant",
        "city": "Antwerpen",
        "address": "Haven 1234",
        "lat": "",
        "lon": "",
        "first_name": "Katrien",
        "last_name": "Peeters",
        "email": "katrien@kempen-cement.example",
        "phone": "+32 3 555 12 34",
        "username": "katrien",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **changes,
    }


# --- sign-up ----------------------------------------------------------------------------------


def test_signup_registers_an_unverified_organisation_with_its_admin(
    client, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    facilitator = UserFactory(username="fac.antwerp", email="fac@port.example")
    HarborRegion.objects.get(code="antwerp-bruges").facilitators.add(facilitator)
    page = client.get(reverse("listings:signup")).content.decode()
    assert 'data-lookup-url="' + reverse("listings:nace-lookup") in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("listings:signup"), _signup_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("listings:dashboard")

    organization = Organization.objects.get(name="Kempen Cement NV")
    assert organization.country_id == "BE"
    assert organization.nace.code == "23.51"
    assert organization.verified_at is None
    assert organization.contact_name == "Katrien Peeters"
    assert organization.contact_email == "katrien@kempen-cement.example"
    assert organization.website == "https://kempen-cement.example"
    site = organization.sites.get()
    assert site.city == "Antwerpen"
    assert abs(site.lat - 51.22) < 0.1
    assert site.region.code == "antwerp-bruges"
    user = User.objects.get(username="katrien")
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(user=user, organization=organization).role == "admin"
    # logged in, on the dashboard, told to wait for verification
    page = client.get(reverse("listings:dashboard")).content.decode()
    assert "Kempen Cement NV" in page
    assert "Awaiting verification" in page
    # the region's facilitators are told
    assert [m.to for m in mailoutbox] == [["fac@port.example"]]
    assert "Kempen Cement NV awaits verification" in mailoutbox[0].subject


def test_signup_with_coordinates_needs_no_city(client) -> None:
    response = client.post(
        reverse("listings:signup"), _signup_data(city="", lat="51.95", lon="4.05", country="NL")
    )
    assert response.status_code == 302
    site = Organization.objects.get(name="Kempen Cement NV").sites.get()
    assert (site.lat, site.lon) == (51.95, 4.05)
    assert site.region.code == "rotterdam-moerdijk"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"nace": "99.99"}, "nace", "is not a NACE code"),
        ({"nace": ""}, "nace", "required"),
        ({"city": "Nowhereville"}, "city", "We could not find “Nowhereville” in Belgium"),
        ({"country": "XX"}, "country", "Choose a country from the list"),
        ({"password2": "something-else-2026"}, "password2", "The two passwords differ"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"email": "not-an-email"}, "email", "Enter an email address"),
        ({"username": "bad name!"}, "username", "Enter a valid username"),
    ],
)
def test_signup_explains_each_error(client, change: dict, field: str, words: str) -> None:
    response = client.post(reverse("listings:signup"), _signup_data(**change))
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors[field])
    assert "error-summary" in response.content.decode()
    assert not Organization.objects.filter(name="Kempen Cement NV").exists()
    assert not User.objects.filter(username="katrien").exists()


def test_signup_refuses_a_taken_organisation_name_or_username(client) -> None:
    OrganizationFactory(name="KEMPEN cement nv", country_id="BE")
    UserFactory(username="Katrien")
    response = client.post(reverse("listings:signup"), _signup_data())
    errors = response.context["form"].errors
    assert "registered in Belgium already" in " ".join(errors["organization_name"])
    assert "taken" in " ".join(errors["username"])


def test_a_new_organisation_can_draft_but_not_publish(client) -> None:
    client.post(reverse("listings:signup"), _signup_data())
    organization = Organization.objects.get(name="Kempen Cement NV")
    site = organization.sites.get()
    response = client.post(
        reverse("listings:demand-create"),
        {
            "title": "Fly ash",
            "resource_type": "material",
            "waste_code": "10 01 02",
            "site": site.pk,
            "quantity": "100",
            "unit": "t",
            "frequency": "month",
            "publish": "1",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "verifies the organisation before its listings go live" in response.content.decode()
    assert organization.demands.get().status == ListingStatus.DRAFT
    assert not Offer.objects.filter(organization=organization).exists()


def test_nace_lookup_is_public_and_searches_codes_and_words(client) -> None:
    url = reverse("listings:nace-lookup")
    by_code = client.get(url, {"q": "23.5"}).json()["results"]
    assert [r["code"] for r in by_code][:3] == ["23.5", "23.51", "23.52"]
    by_words = client.get(url, {"q": "cement"}).json()["results"]
    assert "23.51" in [r["code"] for r in by_words]
    assert len({r["code"] for r in by_words}) == len(by_words)  # one entry per code


def test_a_logged_in_user_is_not_offered_the_signup(client) -> None:
    client.force_login(UserFactory())
    assert client.get(reverse("listings:signup")).status_code == 302


# --- log-in and its rate limit ----------------------------------------------------------------


def _login(client, username: str, password: str, ip: str = "203.0.113.7"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_login_and_logout(client) -> None:
    UserFactory(username="lena")
    response = _login(client, "lena", "pw-for-tests")
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == User.objects.get(username="lena").pk
    page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in page
    assert reverse("listings:signup") in page
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_failed_logins_lock_out_the_username_from_that_address(client) -> None:
    UserFactory(username="lena")
    for _ in range(4):
        response = _login(client, "lena", "wrong")
        assert response.status_code == 200  # the form says the password is wrong
    assert _login(client, "lena", "wrong").status_code == 429  # the fifth failure locks
    response = _login(client, "lena", "pw-for-tests")  # even the right password now
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed log-in attempts" in page
    assert "15 minutes" in page
    assert "_auth_user_id" not in client.session
    # the lockout is for this username from this address only
    UserFactory(username="otto")
    assert _login(client, "otto", "pw-for-tests").status_code == 302
    client.post(reverse("logout"))
    assert _login(client, "lena", "pw-for-tests", ip="198.51.100.2").status_code == 302


def test_a_reset_lifts_the_lockout(client) -> None:
    UserFactory(username="lena")
    for _ in range(5):
        _login(client, "lena", "wrong")
    assert AccessAttempt.objects.filter(username="lena").exists()
    axes_reset(username="lena")
    assert _login(client, "lena", "pw-for-tests").status_code == 302


def test_a_success_before_the_limit_clears_the_failures(client) -> None:
    UserFactory(username="lena")
    for _ in range(4):
        _login(client, "lena", "wrong")
    assert _login(client, "lena", "pw-for-tests").status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        _login(client, "lena", "wrong")
    assert _login(client, "lena", "pw-for-tests").status_code == 302


def test_client_login_without_a_request_still_works(client) -> None:
    UserFactory(username="lena")
    assert client.login(username="lena", password="pw-for-tests")


# --- password reset ---------------------------------------------------------------------------


def test_password_reset_by_email(client, mailoutbox) -> None:
    user = UserFactory(username="lena", email="lena@example.com")
    for _ in range(5):
        _login(client, "lena", "wrong")  # locked out
    response = client.post(reverse("password_reset"), {"email": "lena@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    [mail] = mailoutbox
    assert mail.to == ["lena@example.com"]
    assert "reset your password" in mail.subject
    assert "lena" in mail.body
    link = re.search(r"http://testserver(/\S+)", mail.body).group(1)

    response = client.get(link, follow=True)  # the token moves into the session
    assert response.status_code == 200
    assert response.context["validlink"]
    set_url = response.redirect_chain[-1][0]
    response = client.post(
        set_url, {"new_password1": "New-secret-2026!", "new_password2": "New-secret-2026!"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password("New-secret-2026!")
    assert client.get(link).context["validlink"] is False  # a link works once
    assert _login(client, "lena", "New-secret-2026!").status_code == 302  # lockout lifted


def test_password_reset_for_an_unknown_address_reveals_nothing(client, mailoutbox) -> None:
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []
    page = client.get(reverse("password_reset_done")).content.decode()
    assert "If an account uses this address" in page
