"""The reference-data loader: complete, and a second run changes nothing."""

import pytest
from django.core.management import call_command

from harbors.models import Country, HarborRegion, Port, TransportFactor
from listings.models import (
    MaterialCategory,
    NaceCode,
    Operation,
    WasteChapter,
    WasteCode,
    WasteSubChapter,
)

pytestmark = pytest.mark.django_db


def test_reference_data_is_complete() -> None:
    assert WasteCode.objects.count() == 842
    assert WasteChapter.objects.count() == 20
    assert WasteSubChapter.objects.count() == 111
    assert WasteCode.objects.filter(hazardous=True).count() > 350
    assert WasteCode.objects.get(code="100102").hazardous is False
    assert WasteCode.objects.get(code="100104").hazardous is True
    assert Operation.objects.filter(kind="recovery").count() == 13
    assert Operation.objects.filter(kind="disposal").count() == 15
    rev2 = NaceCode.objects.filter(version="2")
    assert rev2.filter(level="section").count() == 21
    assert rev2.filter(level="division").count() == 88
    assert rev2.filter(level="group").count() == 272
    cement = rev2.get(code="23.51")
    assert cement.parent.code == "23.5"
    assert cement.parent.parent.code == "23"
    assert cement.parent.parent.parent.code == "C"
    for code in (
        "antwerp-bruges",
        "north-sea-port",
        "rotterdam-moerdijk",
        "amsterdam",
        "dunkirk",
        "haropa",
        "hamburg",
        "bremen-ports",
        "dublin",
        "cork",
        "duisburg",
        "liege",
        "basel-rhine-ports",
        "uk-east-coast",
    ):
        assert HarborRegion.objects.filter(code=code).exists(), code
    assert Port.objects.get(unlocode="NLRTM").region.code == "rotterdam-moerdijk"
    assert HarborRegion.objects.get(code="north-sea-port").countries.count() == 2
    assert Country.objects.get(code="CH").efta
    assert not Country.objects.get(code="GB").eu
    assert Country.objects.get(code="GB").oecd
    assert TransportFactor.objects.get(mode="road").g_co2e_per_tkm == pytest.approx(95, abs=5)
    fly_ash = MaterialCategory.objects.get(slug="fly-ash")
    assert fly_ash.parent.slug == "ashes"
    assert fly_ash.parent.parent.slug == "minerals"


def test_loading_twice_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = (
        list(WasteCode.objects.values_list("code", "title", "hazardous", "mirror")),
        list(NaceCode.objects.values_list("version", "code", "title", "parent_id")),
        list(Port.objects.values_list("unlocode", "lat", "lon", "region_id")),
        list(MaterialCategory.objects.values_list("slug", "parent_id", "low_prefixes")),
    )
    call_command("load_reference_data")
    out = capsys.readouterr().out
    assert " 0 created, 0 updated" in out
    assert "created" in out
    for line in out.strip().splitlines():
        assert "0 created, 0 updated" in line, line
    assert snapshot == (
        list(WasteCode.objects.values_list("code", "title", "hazardous", "mirror")),
        list(NaceCode.objects.values_list("version", "code", "title", "parent_id")),
        list(Port.objects.values_list("unlocode", "lat", "lon", "region_id")),
        list(MaterialCategory.objects.values_list("slug", "parent_id", "low_prefixes")),
    )


def test_loader_repairs_a_changed_row_and_keeps_operator_factors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    WasteCode.objects.filter(code="100102").update(title="tampered", hazardous=True)
    TransportFactor.objects.filter(mode="road").update(g_co2e_per_tkm=80)
    call_command("load_reference_data")
    assert "waste codes: 0 created, 1 updated" in capsys.readouterr().out
    assert WasteCode.objects.get(code="100102").hazardous is False
    assert TransportFactor.objects.get(mode="road").g_co2e_per_tkm == 80
