"""Services and selectors behind the company portal: a company's own import, verification,
closing an account, the export and its CSV escaping."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from harbors.models import HarborRegion
from listings import selectors, services
from listings.exceptions import (
    OrganizationClosedError,
    OrganizationNotPermittedError,
)
from listings.exports import csv_cell, csv_table
from listings.importing import HEADER, ImportRejectedError, import_listings
from listings.models import Membership, Offer, Organization
from tests.factories import (
    MembershipFactory,
    OfferFactory,
    OrganizationFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _csv(*rows: dict) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in HEADER})
    return out.getvalue().encode()


def _offer_row(ref: str, organization: str = "Own BV", country: str = "NL") -> dict:
    return {
        "ref": ref,
        "kind": "offer",
        "organization": organization,
        "country": country,
        "city": "Rotterdam",
        "title": "Fly ash",
        "low_code": "100102",
        "quantity": "10",
        "unit": "t",
        "frequency": "week",
    }


# --- a company's own import -------------------------------------------------------------------


def test_only_organization_rejects_other_names_and_countries() -> None:
    own = OrganizationFactory(name="Own BV")
    data = _csv(
        _offer_row("A"),
        _offer_row("B", organization="Other BV"),
        {**_offer_row("C", country="BE"), "lat": "51.2", "lon": "4.4"},
        _offer_row("D", organization="own bv"),  # case does not matter
    )
    with pytest.raises(ImportRejectedError) as caught:
        import_listings(data=data, filename="f.csv", only_organization=own)
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (3, "organization"),
        (4, "organization"),
    ]
    assert not Offer.objects.filter(ref__in="ABCD").exists()
    assert not Organization.objects.filter(name="Other BV").exists()


def test_only_organization_imports_for_that_organisation() -> None:
    own = OrganizationFactory(name="Own BV", verified_at=None)
    summary = import_listings(data=_csv(_offer_row("A")), filename="f.csv", only_organization=own)
    assert summary.created["offer"] == 1
    offer = Offer.objects.get(ref="A")
    assert offer.organization == own
    assert offer.status == "draft"  # unverified: drafts only
    own.refresh_from_db()
    assert own.verified_at is None  # a company's import never verifies itself


def test_dry_run_reports_outcomes_and_writes_nothing(django_capture_on_commit_callbacks) -> None:
    own = OrganizationFactory(name="Own BV")
    import_listings(data=_csv(_offer_row("A")), filename="f.csv")
    data = _csv({**_offer_row("A"), "quantity": "20"}, _offer_row("B"), _offer_row("C"))
    with django_capture_on_commit_callbacks() as callbacks:
        summary = import_listings(data=data, filename="f.csv", dry_run=True, only_organization=own)
    assert summary.outcomes == {2: "updated", 3: "created", 4: "created"}
    assert summary.created["offer"] == 2
    assert Offer.objects.get(ref="A").quantity == 10
    assert not Offer.objects.filter(ref__in=["B", "C"]).exists()
    assert callbacks == []  # nothing queued by a rolled-back run


def test_dry_run_reports_refs_of_other_organisations() -> None:
    other = OrganizationFactory(name="Other BV")
    OfferFactory(organization=other, ref="A")
    own = OrganizationFactory(name="Own BV")
    with pytest.raises(ImportRejectedError) as caught:
        import_listings(
            data=_csv(_offer_row("A")), filename="f.csv", dry_run=True, only_organization=own
        )
    assert caught.value.errors[0].column == "ref"


# --- verification -----------------------------------------------------------------------------


def test_organization_verify_needs_the_regions_facilitator_or_staff() -> None:
    rotterdam = HarborRegion.objects.get(code="rotterdam-moerdijk")
    newcomer = OrganizationFactory(verified_at=None)
    SiteFactory(organization=newcomer, region=rotterdam)
    outsider = UserFactory()
    HarborRegion.objects.get(code="hamburg").facilitators.add(outsider)
    with pytest.raises(OrganizationNotPermittedError):
        services.organization_verify(organization=newcomer, by=outsider)
    with pytest.raises(OrganizationNotPermittedError):
        services.organization_verify(organization=newcomer, by=UserFactory())
    facilitator = UserFactory()
    rotterdam.facilitators.add(facilitator)
    services.organization_verify(organization=newcomer, by=facilitator)
    newcomer.refresh_from_db()
    assert newcomer.verified_by == facilitator
    staff_verified = OrganizationFactory(verified_at=None)
    services.organization_verify(organization=staff_verified, by=UserFactory(is_staff=True))
    services.organization_verify(organization=OrganizationFactory(verified_at=None), by=None)


def test_pending_list_scoping() -> None:
    rotterdam = HarborRegion.objects.get(code="rotterdam-moerdijk")
    newcomer = OrganizationFactory(verified_at=None)
    SiteFactory(organization=newcomer, region=rotterdam)
    SiteFactory(organization=newcomer, region=rotterdam, name="Second plant")
    facilitator = UserFactory()
    rotterdam.facilitators.add(facilitator)
    assert list(selectors.organization_list_pending_for_facilitator(user=facilitator)) == [
        newcomer
    ]  # once, although it has two sites there
    assert selectors.organization_list_pending_for_facilitator(user=UserFactory()) is None


# --- closing an account -----------------------------------------------------------------------


def test_organization_close_needs_an_admin_and_happens_once() -> None:
    organization = OrganizationFactory()
    member = MembershipFactory(organization=organization, role=Membership.Role.MEMBER).user
    admin = MembershipFactory(organization=organization).user
    with pytest.raises(OrganizationNotPermittedError):
        services.organization_close(organization=organization, by=member)
    with pytest.raises(OrganizationNotPermittedError):
        services.organization_close(organization=organization, by=UserFactory())
    services.organization_close(organization=organization, by=admin)
    with pytest.raises(OrganizationClosedError):
        services.organization_close(organization=organization, by=admin)


def test_organization_close_spares_accounts_used_elsewhere() -> None:
    organization, elsewhere = OrganizationFactory(), OrganizationFactory()
    admin = MembershipFactory(organization=organization).user
    shared = MembershipFactory(organization=organization, role=Membership.Role.MEMBER).user
    MembershipFactory(organization=elsewhere, user=shared)
    site = SiteFactory(organization=organization, address="Kade 1")
    services.organization_close(organization=organization, by=admin)
    shared.refresh_from_db()
    assert shared.is_active
    assert shared.username.startswith("user")
    assert not Membership.objects.filter(user=shared, organization=organization).exists()
    assert Membership.objects.filter(user=shared, organization=elsewhere).exists()
    admin.refresh_from_db()
    assert not admin.is_active
    site.refresh_from_db()
    assert site.address == ""
    assert selectors.membership_for_user(user=admin) is None


# --- export -----------------------------------------------------------------------------------


def test_export_data_has_every_table() -> None:
    organization = OrganizationFactory(name="Own BV")
    MembershipFactory(organization=organization, user=UserFactory(first_name="Ada"))
    OfferFactory(organization=organization)
    data = selectors.organization_export_data(organization=organization)
    assert set(data) == {"organization", "members", "sites", "offers", "demands", "matches"}
    assert data["members"][0]["first_name"] == "Ada"
    assert len(data["offers"]) == 1


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+31 10 555", "'+31 10 555"),
        ("-5 t", "'-5 t"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\0x", "'\0x"),
        ("plain", "plain"),
        (-5, -5),
        (None, ""),
        (True, "true"),
    ],
)
def test_csv_cell_escapes_formulas(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_csv_table_writes_a_header_and_rows() -> None:
    text = csv_table([{"a": "=x", "b": 1}, {"a": "y", "b": timezone.datetime(2026, 1, 2).date()}])
    assert text.splitlines() == ["a,b", "'=x,1", "y,2026-01-02"]
