"""The portal end to end in a real Chromium against the real server (pytest-django's
live_server), with matching done by a real Celery worker on the Redis test broker, exactly as
in production: the browser publishes, the view queues the task on commit, the worker scores.

- a company posts an offer through the form, List of Waste picker included, and publishes it;
- another company's demand for the material appears among its matches, anonymous;
- the harbour facilitator finds the match in the queue and introduces both companies;
- each side sees the other's name only once both have answered "interested";
- an upload with a bad row names the row and imports nothing;
- the language switcher turns the interface into French, Dutch and German.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from harbors.models import Country, HarborRegion
from listings import services as listing_services
from listings.importing import HEADER
from listings.models import Demand, Membership, Offer, Organization
from matching.models import Match, Stage
from tests.browser.conftest import log_in, make_user
from tests.matching.test_pipeline import QUEUE, Worker, broker_clear, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POWER = "Maasvlakte Power BV"
CEMENT = "Moerdijk Cement BV"
DEMAND_TITLE = "Fly ash for clinker"
OFFER_TITLE = "Pulverised fuel ash from unit 3"


def _organization(name: str, *, contact: str, admin: Any) -> Organization:
    organization = listing_services.organization_create(
        name=name,
        country=Country.objects.get(code="NL"),
        contact_name=contact,
        contact_email=f"{admin.username}@example.com",
    )
    organization = listing_services.organization_verify(organization=organization, by=None)
    listing_services.membership_add(
        organization=organization, user=admin, role=Membership.Role.ADMIN
    )
    return organization


@pytest.fixture
def world(transactional_db: None) -> dict[str, Any]:
    """Two verified companies of the Rotterdam-Moerdijk region and its facilitator, built through
    the services: a power plant with a site and no listing, a cement plant that has published a
    demand for fly ash."""
    anna = make_user("anna", "Anna", "de Groot")
    bruno = make_user("bruno", "Bruno", "Lambrechts")
    floor = make_user("floor", "Floor", "Hermans")
    region = HarborRegion.objects.get(code="rotterdam-moerdijk")
    region.facilitators.add(floor)
    power = _organization(POWER, contact="Anna de Groot", admin=anna)
    cement = _organization(CEMENT, contact="Bruno Lambrechts", admin=bruno)
    nl = Country.objects.get(code="NL")
    power_site = listing_services.site_create(
        organization=power,
        name="Maasvlakte plant",
        country=nl,
        lat=51.95,
        lon=4.05,
        city="Rotterdam",
    )
    cement_site = listing_services.site_create(
        organization=cement,
        name="Moerdijk kiln",
        country=nl,
        lat=51.69,
        lon=4.60,
        city="Moerdijk",
    )
    assert power_site.region == cement_site.region == region
    demand = listing_services.listing_create(
        model=Demand,
        organization=cement,
        site=cement_site,
        publish=True,
        title=DEMAND_TITLE,
        description="Dry fly ash as a clinker substitute, delivered in silo trucks",
        waste_code_id="100102",
        accepted_codes=["100102"],
        quantity=Decimal(20000),
        unit="t",
        frequency="year",
        operation_id="R5",
        has_permit=True,
        max_distance_km=300,
    )
    return {"anna": anna, "bruno": bruno, "floor": floor, "power": power, "demand": demand}


@pytest.fixture
def worker(tmp_path: Path, transactional_db: None) -> Iterator[Worker]:
    """A real Celery worker subprocess on the Redis test broker and the test database (the
    helper of tests/matching/test_pipeline.py); killed, and the test queue emptied, afterwards."""
    assert QUEUE.startswith("symbiosis-test"), "never purge a real queue"
    broker_clear()
    w = Worker(tmp_path / "worker.log", "solo").start()
    yield w
    w.kill()
    broker_clear()


def _flash(page: Any) -> str:
    return page.locator("ul.messages").inner_text()


def _answer_interested(page: Any, match: Match) -> None:
    page.goto(reverse("listings:match-detail", args=[match.pk]))
    page.locator("input[name=response][value=interested]").check()
    page.get_by_role("button", name="Send my answer").click()
    assert "your answer is recorded" in _flash(page)


def test_offer_to_introduction_end_to_end(
    new_page: Callable[..., Any], world: dict[str, Any], worker: Worker
) -> None:
    # a. The power plant logs in and posts an offer through the form.
    anna = new_page()
    log_in(anna, "anna")
    anna.goto(reverse("listings:offer-create"))
    anna.fill("#id_title", OFFER_TITLE)
    anna.fill("#id_description", "Dry fly ash from the electrostatic precipitators, in silos")
    anna.select_option("#id_resource_type", "material")
    # The List of Waste picker: words fill the suggestions; the entry is taken from them.
    picker = anna.locator("#id_waste_code")
    picker.press_sequentially("fly ash", delay=20)
    option = anna.locator("#id_waste_code-options option[value='10 01 02']")
    option.wait_for(state="attached")
    assert "fly ash" in (option.get_attribute("label") or "").lower()
    picker.fill(option.get_attribute("value") or "")
    anna.fill("#id_quantity", "12000")
    anna.select_option("#id_unit", "t")
    anna.select_option("#id_frequency", "year")
    anna.select_option("#id_waste_status", "waste")
    anna.get_by_role("button", name="Save and publish").click()
    assert "Published." in _flash(anna)
    offer = Offer.objects.get(title=OFFER_TITLE)
    assert offer.organization == world["power"]
    assert offer.waste_code_id == "100102"
    assert offer.status == "published"

    # b. The worker matches it with the cement plant's demand; "My matches" shows it, anonymous.
    match = wait_until(
        lambda: Match.objects.filter(offer=offer, demand=world["demand"]).first(),
        what="the worker to match the published offer",
        log=worker.log,
    )
    anna.goto(reverse("listings:match-list"))
    card = anna.locator("article.match-card", has_text=DEMAND_TITLE)
    assert card.count() == 1
    assert CEMENT not in anna.content()

    # c. The facilitator opens the queue, then the match, and introduces both companies.
    floor = new_page()
    log_in(floor, "floor")
    floor.goto(reverse("facilitate:queue"))
    row = floor.locator(f"tr[data-match='{match.pk}']")
    assert POWER in row.inner_text()
    row.get_by_role("link").first.click()
    assert floor.locator("h1").inner_text() == f"{OFFER_TITLE} → {DEMAND_TITLE}"
    introduce = floor.locator("form.action-introduced")
    introduce.locator("textarea").fill("Both in the Rhine–Meuse delta; kiln trial welcome.")
    introduce.get_by_role("button", name="Introduce both companies").click()
    assert "The match is now Introduced" in _flash(floor)
    match.refresh_from_db()
    assert match.stage == Stage.INTRODUCED

    # d. Introduced, but neither side has answered: still anonymous to both.
    bruno = new_page()
    log_in(bruno, "bruno")
    for page, other in ((anna, CEMENT), (bruno, POWER)):
        page.goto(reverse("listings:match-detail", args=[match.pk]))
        assert other not in page.content()
    _answer_interested(anna, match)
    assert CEMENT not in anna.content()  # one side interested is not enough
    _answer_interested(bruno, match)
    # Both said "interested": each now sees the other's name and contact.
    assert POWER in bruno.locator("dl.contact").inner_text()
    anna.reload()
    assert CEMENT in anna.locator("dl.contact").inner_text()
    assert "Bruno Lambrechts" in anna.locator("dl.contact").inner_text()
    anna.goto(reverse("listings:match-list"))
    assert CEMENT in anna.locator("article.match-card").inner_text()


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in HEADER})
    return out.getvalue().encode()


def test_upload_with_a_bad_row_names_it_and_imports_nothing(
    new_page: Callable[..., Any], world: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path  # the live server runs in this process: it sees the override
    row = {
        "kind": "offer",
        "organization": POWER,
        "country": "NL",
        "city": "Rotterdam",
        "lat": "51.95",  # given, so that the first upload does not wait for the city gazetteer
        "lon": "4.05",
        "title": "Gypsum from FGD",
        "low_code": "10 01 05",
        "quantity": "300",
        "unit": "t",
        "frequency": "month",
    }
    data = _csv(
        [{**row, "ref": "P-1"}, {**row, "ref": "P-2", "unit": "barrel"}, row | {"ref": "P-3"}]
    )
    before = (Offer.objects.count(), Demand.objects.count())

    anna = new_page()
    log_in(anna, "anna")
    anna.goto(reverse("listings:upload"))
    anna.set_input_files(
        "input[type=file]", files=[{"name": "listings.csv", "mimeType": "text/csv", "buffer": data}]
    )
    anna.get_by_role("button", name="Check the file").click()

    summary = anna.locator(".error-summary")
    assert "1 problem found; nothing was imported." in summary.locator("h2").inner_text()
    cells = [c.strip() for c in summary.locator("tbody tr").first.locator("td").all_inner_texts()]
    assert cells[:2] == ["3", "unit"]  # the header is row 1: P-2 is row 3
    assert cells[2]  # a reason in words
    assert (Offer.objects.count(), Demand.objects.count()) == before
    assert not Offer.objects.filter(ref__startswith="P-").exists()


@pytest.mark.parametrize(
    ("language", "nav_offers", "new_offer"),
    [
        ("fr", "Offres", "Nouvelle offre"),
        ("nl", "Aanbod", "Nieuw aanbod"),
        ("de", "Angebote", "Neues Angebot"),
    ],
)
def test_language_switcher_translates_the_interface(
    new_page: Callable[..., Any],
    world: dict[str, Any],
    language: str,
    nav_offers: str,
    new_offer: str,
) -> None:
    anna = new_page()
    log_in(anna, "anna")
    anna.goto(reverse("listings:dashboard"))
    nav = anna.locator(".nav-company")
    assert "Offers" in nav.inner_text()

    switcher = anna.locator("form.lang")
    switcher.locator("select[name=language]").select_option(language)
    switcher.locator("button[type=submit]").click()
    anna.wait_for_url(re.compile(f"/{language}/dashboard/$"))

    assert anna.locator("html").get_attribute("lang") == language
    assert nav_offers in nav.inner_text()
    assert "Offers" not in nav.inner_text()
    assert anna.get_by_role("link", name=new_offer).is_visible()
    # Following a link keeps the language (the URL prefix): the offer form is translated too.
    anna.get_by_role("link", name=new_offer).click()
    assert anna.locator("h1").inner_text() == new_offer
