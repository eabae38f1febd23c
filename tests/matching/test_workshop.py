"""Workshop mode: upload the haves and wants of a matchmaking event, get the matches among the
attendees, printable, with their names."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from listings.importing import HEADER
from listings.models import Demand, Offer
from matching.models import Match, Workshop
from matching.workshops import (
    WorkshopNotPermittedError,
    workshop_create_from_upload,
    workshop_matches,
)
from tests.factories import UserFactory
from tests.matching.portal_world import build_world, make_match

pytestmark = pytest.mark.django_db

CARDS = [
    {
        "ref": "WS-O-1",
        "kind": "offer",
        "organization": "Maasvlakte Energie BV",
        "nace": "35.11",
        "country": "NL",
        "city": "Rotterdam",
        "lat": "51.955",
        "lon": "4.05",
        "title": "Pulverised fuel ash",
        "description": "Dry PFA from coal co-firing",
        "low_code": "10 01 02",
        "quantity": "40000",
        "unit": "t",
        "frequency": "year",
        "waste_status": "waste",
    },
    {
        "ref": "WS-D-1",
        "kind": "demand",
        "organization": "Moerdijk Cement BV",
        "nace": "23.51",
        "country": "NL",
        "city": "Moerdijk",
        "lat": "51.70",
        "lon": "4.60",
        "title": "Fly ash for clinker",
        "description": "Pulverised fuel ash as a raw material",
        "low_code": "10 01 02",
        "quantity": "20000",
        "unit": "t",
        "frequency": "year",
        "operation": "R5",
        "max_distance_km": "200",
    },
    {
        "ref": "WS-ORG-1",
        "kind": "organization",
        "organization": "Botlek Chemicals BV",
        "nace": "20.14",
        "country": "NL",
        "city": "Rotterdam",
        "lat": "51.88",
        "lon": "4.30",
    },
]


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in HEADER})
    return out.getvalue().encode()


@pytest.fixture
def world() -> dict[str, Any]:
    return build_world()


def _upload(client, world: dict, data: bytes, **fields: Any) -> Any:
    return client.post(
        reverse("facilitate:workshop-new"),
        {
            "name": "Rotterdam IS breakfast",
            "date": "2026-11-20",
            "region": world["rotterdam"].pk,
            "cards": SimpleUploadedFile("cards.csv", data, content_type="text/csv"),
            **fields,
        },
    )


def test_upload_imports_matches_and_prints_the_attendees_matches(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    response = _upload(client, world, _csv(CARDS))
    workshop = Workshop.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("facilitate:workshop-detail", args=[workshop.pk])
    assert sorted(workshop.attendees.values_list("name", flat=True)) == [
        "Botlek Chemicals BV",
        "Maasvlakte Energie BV",
        "Moerdijk Cement BV",
    ]
    assert (workshop.region, workshop.facilitator) == (world["rotterdam"], world["facilitator"])
    offer, demand = Offer.objects.get(ref="WS-O-1"), Demand.objects.get(ref="WS-D-1")
    assert Match.objects.filter(offer=offer, demand=demand).exists()  # matched synchronously
    page = client.get(response["Location"])
    html = page.content.decode()
    assert html.count('class="match-card"') == 1
    assert "Maasvlakte Energie BV" in html  # attendees are in the room: names are shown
    assert "Moerdijk Cement BV" in html
    assert "Power NL" not in html  # a match between non-attendees stays out
    assert 'class="no-print"' in html


def test_only_matches_among_attendees(world: dict) -> None:
    result = workshop_create_from_upload(
        facilitator=world["facilitator"],
        name="W",
        date=datetime.date(2026, 11, 20),
        region=world["rotterdam"],
        data=_csv(CARDS[:1]),
        filename="cards.csv",
    )
    # A match of the attendee's ash with Cement NL's demand: Cement NL did not attend.
    offer = Offer.objects.get(ref="WS-O-1")
    if not Match.objects.filter(offer=offer, demand=world["demand"]).exists():
        make_match(offer, world["demand"])
    assert list(workshop_matches(workshop=result.workshop)) == []
    assert result.listings_matched == 1


def test_bad_row_imports_nothing_and_creates_no_workshop(client, world: dict) -> None:
    bad = [dict(CARDS[0]), dict(CARDS[1], quantity="-5")]
    client.force_login(world["facilitator"])
    response = _upload(client, world, _csv(bad))
    assert response.status_code == 400
    html = response.content.decode()
    assert "row 3" in html
    assert "quantity" in html
    assert not Workshop.objects.exists()
    assert not Offer.objects.filter(ref="WS-O-1").exists()


def test_upload_rejects_a_wrong_file(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    response = client.post(
        reverse("facilitate:workshop-new"),
        {
            "name": "W",
            "date": "2026-11-20",
            "region": world["rotterdam"].pk,
            "cards": SimpleUploadedFile("cards.exe", b"MZ\x90\x00", content_type="x"),
        },
    )
    assert response.status_code == 400
    assert not Workshop.objects.exists()


def test_upload_to_another_region_is_refused(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    response = _upload(client, world, _csv(CARDS), region=world["hamburg"].pk)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Workshop.objects.exists()
    with pytest.raises(WorkshopNotPermittedError):
        workshop_create_from_upload(
            facilitator=world["facilitator"],
            name="W",
            date=datetime.date(2026, 11, 20),
            region=world["hamburg"],
            data=_csv(CARDS),
            filename="cards.csv",
        )
    assert not Offer.objects.filter(ref="WS-O-1").exists()


def test_workshop_pages_are_scoped(client, world: dict) -> None:
    workshop = Workshop.objects.create(name="W", date="2026-11-20", region=world["rotterdam"])
    url = reverse("facilitate:workshop-detail", args=[workshop.pk])
    client.force_login(world["outsider"])
    assert client.get(url).status_code == 404
    client.force_login(UserFactory(username="nobody"))
    assert client.get(url).status_code == 404
    client.force_login(world["facilitator"])
    assert client.get(url).status_code == 200
    assert "W" in client.get(reverse("facilitate:workshops")).content.decode()


def test_print_stylesheet_puts_one_card_per_match() -> None:
    css = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()
    media_print = css[css.index("@media print") :]
    assert ".match-card" in media_print
    assert "break-inside: avoid" in media_print
