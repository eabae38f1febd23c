"""The partner API of harbour geography: countries, harbour regions and ports (read only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from harbors.filters import PortFilter
from harbors.models import Country, HarborRegion, Port
from harbors.selectors import country_list, harbor_region_get, harbor_region_list, port_list
from symbiosis.api import ReferencePagination
from symbiosis.api_docs import OBJECT_ERRORS, api_doc
from symbiosis.api_views import SelectorDetailApi, SelectorListApi


def _page(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"next": None, "previous": None, "results": list(rows)}


def _example(name: str, value: Any) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=["200"])


class CountrySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    eu = serializers.BooleanField()
    eea = serializers.BooleanField()
    efta = serializers.BooleanField()
    oecd = serializers.BooleanField()
    basel_party = serializers.BooleanField()

    class Meta:
        ref_name = "Country"


COUNTRY_EXAMPLE = {
    "code": "BE",
    "name": "Belgium",
    "eu": True,
    "eea": True,
    "efta": False,
    "oecd": True,
    "basel_party": True,
}


@api_doc(
    summary="Countries",
    description="Countries with the memberships that decide a shipment procedure (EU, EEA, "
    "EFTA, OECD, Basel Convention).",
    responses=CountrySerializer(many=True),
    examples=[_example("Belgium", _page(COUNTRY_EXAMPLE))],
    tags=["reference"],
)
class CountryListApi(SelectorListApi):
    OutputSerializer = CountrySerializer
    pagination_class = ReferencePagination
    cursor_ordering = ("code",)
    empty_model = Country

    def selector(self) -> QuerySet[Country]:
        return country_list()


class HarborRegionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    countries = serializers.SerializerMethodField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()

    class Meta:
        ref_name = "HarborRegion"

    def get_countries(self, obj: HarborRegion) -> list[str]:
        return sorted(country.code for country in obj.countries.all())


REGION_EXAMPLE = {
    "code": "rotterdam-moerdijk",
    "name": "Rotterdam and Moerdijk",
    "countries": ["NL"],
    "lat": 51.9,
    "lon": 4.3,
}


@api_doc(
    summary="Harbour regions",
    description="The harbour regions facilitators work and impact figures add up to.",
    responses=HarborRegionSerializer(many=True),
    examples=[_example("Rotterdam", _page(REGION_EXAMPLE))],
    tags=["reference"],
)
class HarborRegionListApi(SelectorListApi):
    OutputSerializer = HarborRegionSerializer
    pagination_class = ReferencePagination
    cursor_ordering = ("code",)
    empty_model = HarborRegion

    def selector(self) -> QuerySet[HarborRegion]:
        return harbor_region_list()


@api_doc(
    summary="One harbour region",
    description="A harbour region by its code.",
    responses=HarborRegionSerializer,
    errors=OBJECT_ERRORS,
    examples=[_example("Rotterdam", REGION_EXAMPLE)],
    tags=["reference"],
)
class HarborRegionDetailApi(SelectorDetailApi):
    OutputSerializer = HarborRegionSerializer

    def selector(self) -> HarborRegion | None:
        return harbor_region_get(code=self.kwargs["code"][:40])


class PortSerializer(serializers.Serializer):
    unlocode = serializers.CharField(help_text="UN/LOCODE, e.g. NLRTM.")
    name = serializers.CharField()
    country = serializers.CharField(source="country_id")
    kind = serializers.ChoiceField(choices=Port.Kind.choices)
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    region = serializers.CharField(source="region.code")
    waterways = serializers.CharField()

    class Meta:
        ref_name = "Port"


@api_doc(
    summary="Ports",
    description="Sea and inland ports with their harbour region; filter by region, country "
    "or kind.",
    responses=PortSerializer(many=True),
    examples=[
        _example(
            "Rotterdam",
            _page(
                {
                    "unlocode": "NLRTM",
                    "name": "Rotterdam",
                    "country": "NL",
                    "kind": "seaport",
                    "lat": 51.95,
                    "lon": 4.14,
                    "region": "rotterdam-moerdijk",
                    "waterways": "rhine",
                }
            ),
        )
    ],
    tags=["reference"],
)
class PortListApi(SelectorListApi):
    OutputSerializer = PortSerializer
    filterset_class = PortFilter
    pagination_class = ReferencePagination
    cursor_ordering = ("unlocode",)
    empty_model = Port

    def selector(self) -> QuerySet[Port]:
        return port_list()
