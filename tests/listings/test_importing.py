"""`manage.py import_listings`: good files import, re-import updates, a bad row imports nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from listings.importing import HEADER, ImportFileError, ImportRejectedError, import_listings
from listings.models import Demand, Offer, Organization, Site

pytestmark = pytest.mark.django_db

GOOD_ROWS = [
    {
        "ref": "ORG-1",
        "kind": "organization",
        "organization": "Kempen Cement NV",
        "nace": "23.51",
        "country": "BE",
        "city": "Antwerpen",
        "lat": "51.27",
        "lon": "4.36",
    },
    {
        "ref": "O-1",
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
        "waste_status": "by_product",
    },
    {
        "ref": "O-2",
        "kind": "offer",
        "organization": "Maasvlakte Energie BV",
        "nace": "35.11",
        "country": "NL",
        "city": "Rotterdam",
        "lat": "51.955",
        "lon": "4.05",
        "title": "Surplus heat 90 °C",
        "category": "waste-heat-low",
        "quantity": "15",
        "unit": "MWh",
        "frequency": "continuous",
    },
    {
        "ref": "D-1",
        "kind": "demand",
        "organization": "Kempen Cement NV",
        "nace": "23.51",
        "country": "BE",
        "city": "Antwerpen",
        "title": "Fly ash for clinker",
        "low_code": "100102*".replace("*", ""),
        "quantity": "2500",
        "unit": "t",
        "frequency": "month",
        "operation": "R5",
        "max_distance_km": "250",
    },
    {
        "ref": "D-2",
        "kind": "demand",
        "organization": "Westland Kassen BV",
        "nace": "01.13",
        "country": "NL",
        "city": "Naaldwijk",
        "title": "CO2 for greenhouses",
        "category": "co2",
        "quantity": "20",
        "unit": "t",
        "frequency": "day",
    },
]


def _csv(rows: list[dict[str, str]], header: tuple[str, ...] = HEADER, sep: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, delimiter=sep, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in header})
    return buffer.getvalue().encode()


def _xlsx(rows: list[dict[str, str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(HEADER))
    for row in rows:
        sheet.append(
            [
                float(row[k]) if k in {"lat", "lon", "quantity"} and row.get(k) else row.get(k, "")
                for k in HEADER
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _counts() -> tuple[int, int, int, int]:
    return (
        Organization.objects.count(),
        Site.objects.count(),
        Offer.objects.count(),
        Demand.objects.count(),
    )


def test_import_creates_organisations_sites_and_listings() -> None:
    summary = import_listings(data=_csv(GOOD_ROWS), filename="cards.csv")
    assert summary.created == {"offer": 2, "demand": 2, "organization": 1}
    fly_ash = Offer.objects.get(ref="O-1")
    assert fly_ash.waste_code_id == "100102"
    assert fly_ash.status == "published"
    assert fly_ash.needs_matching
    assert fly_ash.annual_quantity == 40000
    assert fly_ash.organization.nace.code == "35.11"
    assert fly_ash.site.region.code == "rotterdam-moerdijk"
    heat = Offer.objects.get(ref="O-2")
    assert heat.resource_type == "energy"
    assert heat.annual_quantity == 15 * 8760
    assert heat.site_id == fly_ash.site_id  # same coordinates, same site
    cement = Demand.objects.get(ref="D-1")
    assert cement.operation_id == "R5"
    assert cement.max_distance_km == 250
    assert list(cement.accepted_codes.values_list("code", flat=True)) == ["100102"]
    assert cement.organization.ref == "ORG-1"
    assert Organization.objects.get(name="Kempen Cement NV").sites.count() == 2  # lat/lon + city
    greenhouse = Demand.objects.get(ref="D-2")  # no lat/lon: geocoded from the city, offline
    assert greenhouse.site.lat == pytest.approx(52.0, abs=0.05)
    assert greenhouse.site.lon == pytest.approx(4.2, abs=0.05)


def test_import_twice_updates_and_duplicates_nothing() -> None:
    import_listings(data=_csv(GOOD_ROWS), filename="cards.csv")
    before = _counts()
    version = Offer.objects.get(ref="O-1").version
    summary = import_listings(data=_csv(GOOD_ROWS), filename="cards.csv")
    assert _counts() == before
    assert summary.unchanged == {"offer": 2, "demand": 2, "organization": 1}
    assert Offer.objects.get(ref="O-1").version == version  # unchanged rows are left alone

    changed = [dict(r) for r in GOOD_ROWS]
    changed[1]["quantity"] = "50000"
    summary = import_listings(data=_csv(changed), filename="cards.csv")
    assert summary.updated["offer"] == 1
    offer = Offer.objects.get(ref="O-1")
    assert offer.annual_quantity == 50000
    assert offer.version == version + 1
    assert _counts() == before


def test_xlsx_and_semicolon_csv_import_the_same() -> None:
    import_listings(data=_xlsx(GOOD_ROWS), filename="cards.xlsx")
    assert Offer.objects.get(ref="O-1").waste_code_id == "100102"
    assert Demand.objects.get(ref="D-1").annual_quantity == 30000
    summary = import_listings(data=_csv(GOOD_ROWS, sep=";"), filename="cards.csv")
    assert summary.unchanged["offer"] == 2


def test_low_code_forms_are_all_accepted() -> None:
    rows = []
    for n, code in enumerate(["100102", "10 01 02", "10 01 04*", "10-01-05"]):
        rows.append({**GOOD_ROWS[1], "ref": f"O-{n}", "low_code": code})
    import_listings(data=_csv(rows), filename="cards.csv")
    assert sorted(Offer.objects.values_list("waste_code_id", flat=True)) == [
        "100102",
        "100102",
        "100104",
        "100105",
    ]
    assert Offer.objects.get(waste_code_id="100104").hazardous


BAD_CASES = [
    ("kind", {"kind": "swap"}, "must be one of"),
    ("ref", {"ref": ""}, "is required"),
    ("organization", {"organization": ""}, "is required"),
    ("country", {"country": "XX"}, "unknown country"),
    ("nace", {"nace": "99.99"}, "unknown NACE"),
    ("lat", {"lat": "north"}, "is not a number"),
    ("lat", {"lat": "95"}, "outside"),
    ("lon", {"lon": "200"}, "outside"),
    ("city", {"lat": "", "lon": "", "city": "Atlantis"}, "no coordinates"),
    ("title", {"title": ""}, "is required"),
    ("low_code", {"low_code": "10 01"}, "six digits"),
    ("low_code", {"low_code": "99 99 99"}, "not in the European List of Waste"),
    ("low_code", {"low_code": "", "category": ""}, "give a List of Waste code or a category"),
    ("category", {"category": "unobtainium"}, "unknown category"),
    ("quantity", {"quantity": "0"}, "more than zero"),
    ("quantity", {"quantity": "-3"}, "more than zero"),
    ("quantity", {"quantity": "lots"}, "is not a number"),
    ("quantity", {"quantity": ""}, "is required"),
    ("unit", {"unit": "barrels"}, "must be one of"),
    ("unit", {"unit": "MWh"}, "does not fit"),
    ("frequency", {"frequency": "hourly"}, "must be one of"),
    ("waste_status", {"waste_status": "treasure"}, "must be one of"),
    ("operation", {"operation": "R5"}, "applies to demands only"),
]


@pytest.mark.parametrize(
    ("column", "change", "reason"), BAD_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CASES)]
)
def test_a_bad_row_imports_nothing_and_is_named(
    column: str, change: dict[str, str], reason: str
) -> None:
    rows = [*GOOD_ROWS, {**GOOD_ROWS[1], "ref": "O-BAD", **change}]
    with pytest.raises(ImportRejectedError) as caught:
        import_listings(data=_csv(rows), filename="cards.csv")
    errors = caught.value.errors
    assert [(e.row, e.column) for e in errors] == [(len(rows) + 1, column)], errors
    assert reason in errors[0].reason
    assert _counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("column", "change", "reason"),
    [
        ("operation", {"operation": "R14"}, "not an R1-R13 or D1-D15"),
        ("max_distance_km", {"max_distance_km": "far"}, "is not a number"),
        ("max_distance_km", {"max_distance_km": "0"}, "between 1 and"),
        ("waste_status", {"waste_status": "waste"}, "applies to offers only"),
    ],
)
def test_bad_demand_rows_are_named(column: str, change: dict[str, str], reason: str) -> None:
    rows = [*GOOD_ROWS, {**GOOD_ROWS[3], "ref": "D-BAD", **change}]
    with pytest.raises(ImportRejectedError) as caught:
        import_listings(data=_csv(rows), filename="cards.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(7, column)]
    assert reason in caught.value.errors[0].reason
    assert _counts() == (0, 0, 0, 0)


def test_every_bad_row_is_reported_at_once() -> None:
    rows = [
        *GOOD_ROWS,
        {**GOOD_ROWS[1], "ref": "O-1"},  # duplicate ref
        {**GOOD_ROWS[1], "ref": "O-9", "quantity": "0", "unit": "gallons"},
    ]
    with pytest.raises(ImportRejectedError) as caught:
        import_listings(data=_csv(rows), filename="cards.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (7, "ref"),
        (8, "quantity"),
        (8, "unit"),
    ]
    assert _counts() == (0, 0, 0, 0)


def test_a_ref_owned_by_another_organisation_is_refused() -> None:
    import_listings(data=_csv(GOOD_ROWS[:2]), filename="a.csv")
    stolen = {**GOOD_ROWS[1], "organization": "Someone Else BV"}
    with pytest.raises(ImportRejectedError) as caught:
        import_listings(data=_csv([stolen]), filename="b.csv")
    assert "belongs to another organisation" in caught.value.errors[0].reason
    assert Offer.objects.get(ref="O-1").organization.name == "Maasvlakte Energie BV"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "x.csv", "empty"),
        (b"ref,kind\nA,offer\n", "x.csv", "header row must be"),
        (_csv([]), "x.csv", "no rows"),
        (b"\xff\xfe\x00bad", "x.csv", "not UTF-8"),
        (b"PK\x03\x04garbage", "x.xlsx", "cannot be read"),
        (b"plain text", "x.xlsx", "not an XLSX"),
        (b"%PDF-1.7", "x.pdf", ".csv or .xlsx"),
        (b"a" * (5 * 1024 * 1024 + 1), "x.csv", "larger than"),
    ],
)
def test_unreadable_files_get_a_clear_error(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        import_listings(data=data, filename=filename)
    assert message in caught.value.message


def test_command_prints_every_bad_row_and_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "cards.csv"
    path.write_bytes(_csv([*GOOD_ROWS, {**GOOD_ROWS[1], "ref": "O-X", "unit": "bags"}]))
    with pytest.raises(CommandError) as caught:
        call_command("import_listings", str(path))
    assert "row 7, column unit" in str(caught.value)
    assert _counts() == (0, 0, 0, 0)


def test_command_imports_a_good_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cards.csv"
    path.write_bytes(_csv(GOOD_ROWS))
    call_command("import_listings", str(path))
    assert "offers: 2 created" in capsys.readouterr().out
    assert Offer.objects.count() == 2
