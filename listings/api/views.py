"""The partner API of listings: reference data, the anonymised public search, and an
organisation's own offers, demands and sites (create, read, update, publish, close, import).

One class per operation (STYLE.md B4). Reads call a scoped selector; writes validate with an
``InputSerializer``, call one service and answer with an output serializer. Another
organisation's id is a 404, never a 403.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from listings import services
from listings.filters import NaceFilter, OwnListingFilter, PublicListingFilter, WasteCodeFilter
from listings.importing import MAX_FILE_BYTES, import_listings
from listings.models import (
    Demand,
    ListingStatus,
    MaterialCategory,
    NaceCode,
    Offer,
    Operation,
    Site,
    WasteCode,
)
from listings.selectors import (
    listing_get_for_organizations,
    listing_get_public,
    listing_list_for_organizations,
    listing_search_public,
    material_category_list,
    nace_list,
    operation_list,
    organization_get,
    site_get_for_organizations,
    site_list_for_organizations,
    waste_code_get,
    waste_code_list,
)
from symbiosis.api import (
    MAX_ID,
    HasScope,
    IsOrganizationCaller,
    ReferencePagination,
    get_or_404,
    object_id,
)
from symbiosis.api_docs import OBJECT_ERRORS, WRITE_ERRORS, api_doc
from symbiosis.api_views import BaseApi, SelectorDetailApi, SelectorListApi

from .serializers import (
    CategoryRefSerializer,
    DemandFieldsSerializer,
    DemandSerializer,
    OfferFieldsSerializer,
    OfferSerializer,
    PublicListingSerializer,
    SiteFieldsSerializer,
    SiteSerializer,
    WasteCodeRefSerializer,
)

ORGANIZATION_PERMISSIONS = [IsAuthenticated, HasScope, IsOrganizationCaller]

# --- examples --------------------------------------------------------------------------------

PUBLIC_LISTING_EXAMPLE = {
    "public_id": "off_Xq3v9Lr2PzT0aB7c",
    "kind": "offer",
    "title": "Fly ash from a coal-fired boiler",
    "description": "Dry, silo-stored, EN 450 tested.",
    "resource_type": "material",
    "waste_code": {
        "code": "100102",
        "display_code": "10 01 02",
        "title": "coal fly ash",
        "hazardous": False,
    },
    "category": {"slug": "fly-ash", "name": "Fly ash"},
    "quantity": "1200.000",
    "unit": "t",
    "frequency": "month",
    "annual_quantity": "14400.000",
    "base_unit": "t",
    "available_from": None,
    "available_until": None,
    "published_on": "2026-03-02",
    "country": "NL",
    "region": {"code": "rotterdam-moerdijk", "name": "Rotterdam and Moerdijk"},
    "approx_lat": 51.9,
    "approx_lon": 4.1,
    "distance_km": 12.4,
    "waste_status": "waste",
    "physical_form": "powder",
    "hazardous": False,
    "quantity_min": None,
    "max_distance_km": None,
    "operation": None,
}
OFFER_EXAMPLE = {
    "id": 412,
    "public_id": "off_Xq3v9Lr2PzT0aB7c",
    "ref": "ACME-FA-1",
    "status": "published",
    "site": 37,
    "title": "Fly ash from a coal-fired boiler",
    "description": "Dry, silo-stored, EN 450 tested.",
    "resource_type": "material",
    "waste_code": "100102",
    "category": "fly-ash",
    "quantity": "1200.000",
    "unit": "t",
    "frequency": "month",
    "annual_quantity": "14400.000",
    "available_from": None,
    "available_until": None,
    "published_at": "2026-03-02T09:14:00Z",
    "version": 2,
    "created_at": "2026-03-02T09:14:00Z",
    "updated_at": "2026-03-02T09:14:00Z",
    "waste_status": "waste",
    "status_evidence": "none",
    "list_class": "",
    "basel_code": "",
    "hazardous": False,
    "mixture": False,
    "contaminated": False,
    "pops": False,
    "physical_form": "powder",
    "price_eur_per_unit": "-5.00",
    "can_deliver": True,
}
OFFER_INPUT_EXAMPLE = {
    "ref": "ACME-FA-1",
    "site": 37,
    "title": "Fly ash from a coal-fired boiler",
    "waste_code": "10 01 02",
    "quantity": "1200",
    "unit": "t",
    "frequency": "month",
    "waste_status": "waste",
    "physical_form": "powder",
    "publish": True,
}
_OFFER_ONLY = (
    "waste_status",
    "status_evidence",
    "list_class",
    "basel_code",
    "hazardous",
    "mixture",
    "contaminated",
    "pops",
    "physical_form",
    "price_eur_per_unit",
    "can_deliver",
)
DEMAND_EXAMPLE = {
    **{k: v for k, v in OFFER_EXAMPLE.items() if k not in _OFFER_ONLY},
    "id": 988,
    "public_id": "dem_b7cXq3v9Lr2PzT0a",
    "ref": "CEM-IN-4",
    "title": "Raw material for clinker",
    "accepted_codes": ["100102", "100115"],
    "accepted_categories": ["ashes"],
    "quantity_min": "200.000",
    "max_distance_km": 300,
    "operation": "R5",
    "has_permit": True,
    "accepts_hazardous": False,
}
DEMAND_INPUT_EXAMPLE = {
    "ref": "CEM-IN-4",
    "site": 52,
    "title": "Raw material for clinker",
    "waste_code": "100102",
    "accepted_codes": ["100115"],
    "quantity": "2000",
    "quantity_min": "200",
    "unit": "t",
    "frequency": "month",
    "max_distance_km": 300,
    "operation": "R5",
    "has_permit": True,
}
SITE_EXAMPLE = {
    "id": 37,
    "name": "Maasvlakte plant",
    "address": "Europaweg 1",
    "city": "Rotterdam",
    "country": "NL",
    "lat": 51.953,
    "lon": 4.044,
    "region": "rotterdam-moerdijk",
    "nearest_port": "NLRTM",
    "created_at": "2026-01-12T10:00:00Z",
}
SITE_INPUT_EXAMPLE = {
    "name": "Maasvlakte plant",
    "address": "Europaweg 1",
    "city": "Rotterdam",
    "country": "NL",
    "lat": 51.953,
    "lon": 4.044,
}


def _page(*rows: dict[str, Any]) -> dict[str, Any]:
    return {
        "next": "https://symbiosis.example/api/v1/listings/public/?cursor=cD0yMDI2:sig",
        "previous": None,
        "results": list(rows),
    }


def _response(name: str, value: Any, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


def _request(name: str, value: Any) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


# --- reference data --------------------------------------------------------------------------


class WasteCodeSerializer(WasteCodeRefSerializer):
    mirror = serializers.BooleanField(help_text="One half of a mirror pair.")
    subchapter = serializers.CharField(source="subchapter_id")

    class Meta:
        ref_name = "WasteCode"


WASTE_CODE_EXAMPLE = {
    "code": "100102",
    "display_code": "10 01 02",
    "title": "coal fly ash",
    "hazardous": False,
    "mirror": False,
    "subchapter": "1001",
}


@api_doc(
    summary="List of Waste codes",
    description="The 842 entries of the European List of Waste. `q` searches by code or "
    "prefix (`10 01`) or by every word of the title (`fly ash`).",
    responses=WasteCodeSerializer(many=True),
    examples=[_response("Fly ash", _page(WASTE_CODE_EXAMPLE))],
    tags=["reference"],
)
class WasteCodeListApi(SelectorListApi):
    OutputSerializer = WasteCodeSerializer
    filterset_class = WasteCodeFilter
    pagination_class = ReferencePagination
    cursor_ordering = ("code",)
    empty_model = WasteCode

    def selector(self) -> QuerySet[WasteCode]:
        return waste_code_list()


@api_doc(
    summary="One List of Waste code",
    description="An entry by its code in any usual form: `100102`, `10 01 02` or `10 01 02*`.",
    responses=WasteCodeSerializer,
    errors=OBJECT_ERRORS,
    examples=[_response("Fly ash", WASTE_CODE_EXAMPLE)],
    tags=["reference"],
)
class WasteCodeDetailApi(SelectorDetailApi):
    OutputSerializer = WasteCodeSerializer

    def selector(self) -> WasteCode | None:
        try:
            return waste_code_get(self.kwargs["code"][:20])
        except ValueError:
            return None


class NaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.ChoiceField(choices=NaceCode.Version.choices)
    code = serializers.CharField()
    level = serializers.ChoiceField(choices=NaceCode.Level.choices)
    title = serializers.CharField()
    parent = serializers.CharField(source="parent.code", allow_null=True, default=None)

    class Meta:
        ref_name = "Nace"


@api_doc(
    summary="NACE activity codes",
    description="NACE Rev. 2 (and Rev. 2.1 where it differs), section to class.",
    responses=NaceSerializer(many=True),
    examples=[
        _response(
            "Cement",
            _page(
                {
                    "id": 812,
                    "version": "2",
                    "code": "23.51",
                    "level": "class",
                    "title": "Manufacture of cement",
                    "parent": "23.5",
                }
            ),
        )
    ],
    tags=["reference"],
)
class NaceListApi(SelectorListApi):
    OutputSerializer = NaceSerializer
    filterset_class = NaceFilter
    pagination_class = ReferencePagination
    cursor_ordering = ("id",)
    empty_model = NaceCode

    def selector(self) -> QuerySet[NaceCode]:
        return nace_list()


class CategorySerializer(CategoryRefSerializer):
    parent = serializers.CharField(source="parent.slug", allow_null=True, default=None)
    resource_type = serializers.CharField()

    class Meta:
        ref_name = "Category"


@api_doc(
    summary="Material categories",
    description="The material taxonomy (e.g. minerals > ashes > fly ash); a search by "
    "`category` includes the sub-categories.",
    responses=CategorySerializer(many=True),
    examples=[
        _response(
            "Ashes",
            _page(
                {
                    "slug": "ashes",
                    "name": "Ashes",
                    "parent": "minerals",
                    "resource_type": "material",
                }
            ),
        )
    ],
    tags=["reference"],
)
class CategoryListApi(SelectorListApi):
    OutputSerializer = CategorySerializer
    pagination_class = ReferencePagination
    cursor_ordering = ("slug",)
    empty_model = MaterialCategory

    def selector(self) -> QuerySet[MaterialCategory]:
        return material_category_list()


class OperationSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=Operation.Kind.choices)
    description = serializers.CharField()

    class Meta:
        ref_name = "Operation"


@api_doc(
    summary="Recovery and disposal operations",
    description="R1-R13 and D1-D15 of Directive 2008/98/EC, Annexes I and II.",
    responses=OperationSerializer(many=True),
    examples=[
        _response(
            "R5",
            _page(
                {
                    "code": "R5",
                    "kind": "recovery",
                    "description": "Recycling/reclamation of other inorganic materials",
                }
            ),
        )
    ],
    tags=["reference"],
)
class OperationListApi(SelectorListApi):
    OutputSerializer = OperationSerializer
    pagination_class = ReferencePagination
    cursor_ordering = ("code",)
    empty_model = Operation

    def selector(self) -> QuerySet[Operation]:
        return operation_list()


# --- the anonymised public search ------------------------------------------------------------


@api_doc(
    summary="Search published listings (anonymised)",
    description="Published offers (or, with `kind=demand`, demands) of every organisation, "
    "newest first, with no name, contact, site or database id: the location is rounded to 0.1 "
    "degree and `public_id` is random. Filters combine: resource type, List of Waste code or "
    "prefix, category (with sub-categories), country, harbour region, yearly quantity range, "
    "and a radius search (`lat`, `lon`, `radius_km`: a bounding box, then the exact great-"
    "circle distance to the rounded location).",
    responses=PublicListingSerializer(many=True),
    examples=[_response("Fly ash near Rotterdam", _page(PUBLIC_LISTING_EXAMPLE))],
    tags=["public listings"],
)
class PublicListingListApi(SelectorListApi):
    OutputSerializer = PublicListingSerializer
    filterset_class = PublicListingFilter
    cursor_ordering = ("-created_at", "-id")
    empty_model = Offer

    def selector(self) -> QuerySet[Any]:
        kind = self.request.query_params.get("kind")
        return listing_search_public(kind="demand" if kind == "demand" else "offer")


@api_doc(
    summary="One published listing (anonymised)",
    description="A published offer or demand by its `public_id`.",
    responses=PublicListingSerializer,
    errors=OBJECT_ERRORS,
    examples=[_response("Fly ash", PUBLIC_LISTING_EXAMPLE | {"distance_km": None})],
    tags=["public listings"],
)
class PublicListingDetailApi(SelectorDetailApi):
    OutputSerializer = PublicListingSerializer

    def selector(self) -> dict[str, Any] | None:
        return listing_get_public(public_id=self.kwargs["public_id"])


# --- an organisation's own offers and demands ------------------------------------------------


class _OwnListings:
    """Reads and changes of the caller's own listings. Any caller with the scope may try: the
    selector finds nothing of another organisation's (a facilitator has none), so a foreign id
    is a 404."""

    kind: str = "offer"

    def listing(self: Any) -> Offer | Demand:
        listing_id = object_id(self.kwargs.get("pk"))
        found = (
            None
            if listing_id is None
            else listing_get_for_organizations(
                kind=self.kind,
                organization_ids=self.caller.organization_ids,
                listing_id=listing_id,
            )
        )
        return get_or_404(found)

    def input_context(self: Any) -> dict[str, Any]:
        return {"organization_ids": self.caller.organization_ids, "kind": self.kind}


def _list_doc(kind: str, example: dict[str, Any], output: Any) -> Any:
    return api_doc(
        summary=f"Your {kind}s",
        description=f"The {kind}s of your organisation, newest first, in every status.",
        responses=output(many=True),
        examples=[_response(f"A {kind}", _page(example))],
        tags=[f"own {kind}s"],
    )


def _detail_doc(kind: str, example: dict[str, Any], output: Any) -> Any:
    return api_doc(
        summary=f"One of your {kind}s",
        description=f"One {kind} of your organisation; another organisation's is not found.",
        responses=output,
        errors=OBJECT_ERRORS,
        examples=[_response(f"A {kind}", example)],
        tags=[f"own {kind}s"],
    )


def _create_doc(kind: str, example: dict[str, Any], request: Any, output: Any) -> Any:
    return api_doc(
        summary=f"Create a {kind}",
        description=f"A new {kind} at one of your sites, as a draft or (`publish: true`) "
        "published and queued for matching. Publishing needs a verified organisation.",
        request=request,
        responses=output,
        success=201,
        errors=WRITE_ERRORS,
        codes={409: ["organization_not_verified"]},
        examples=[
            _request(f"A {kind}", example),
            _response(f"The new {kind}", OFFER_EXAMPLE if kind == "offer" else DEMAND_EXAMPLE, 201),
        ],
        tags=[f"own {kind}s"],
    )


def _update_doc(kind: str, request: Any, output: Any) -> Any:
    return api_doc(
        summary=f"Update a {kind}",
        description=f"Change some fields of a {kind}. A published {kind} gets a new version and "
        "is matched again. A closed one cannot change.",
        request=request,
        responses=output,
        errors=WRITE_ERRORS,
        codes={409: ["listing_closed"]},
        examples=[
            _request("New quantity", {"quantity": "1500", "frequency": "month"}),
            _response(f"The {kind}", OFFER_EXAMPLE if kind == "offer" else DEMAND_EXAMPLE),
        ],
        tags=[f"own {kind}s"],
    )


def _action_doc(kind: str, action: str, description: str, codes: list[str], output: Any) -> Any:
    example = OFFER_EXAMPLE if kind == "offer" else DEMAND_EXAMPLE
    return api_doc(
        summary=f"{action.capitalize()} a {kind}",
        description=description,
        request=None,
        responses=output,
        errors=WRITE_ERRORS,
        codes={409: codes},
        examples=[
            _response(
                f"The {kind}",
                example | {"status": "closed" if action == "close" else "published"},
            )
        ],
        tags=[f"own {kind}s"],
    )


class _ListingListApi(_OwnListings, SelectorListApi):
    filterset_class = OwnListingFilter

    def selector(self) -> QuerySet[Any]:
        return listing_list_for_organizations(
            kind=self.kind, organization_ids=self.caller.organization_ids
        )


class _ListingDetailApi(_OwnListings, SelectorDetailApi):
    def selector(self) -> Offer | Demand:
        return self.listing()


class _ListingCreateApi(_OwnListings, BaseApi):
    permission_classes = ORGANIZATION_PERMISSIONS
    model: type[Offer] | type[Demand] = Offer
    InputSerializer: Any
    OutputSerializer: Any

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, context=self.input_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        site: Site = data.pop("site")
        listing = services.listing_create(
            model=self.model, organization=site.organization, site=site, **data
        )
        return Response(self.OutputSerializer(listing).data, status=status.HTTP_201_CREATED)


class _ListingUpdateApi(_OwnListings, BaseApi):
    InputSerializer: Any
    OutputSerializer: Any

    def patch(self, request: Request, pk: str) -> Response:
        listing = self.listing()
        serializer = self.InputSerializer(
            listing, data=request.data, partial=True, context=self.input_context()
        )
        serializer.is_valid(raise_exception=True)
        listing = services.listing_update(listing=listing, **serializer.validated_data)
        return Response(self.OutputSerializer(listing).data)


class _ListingPublishApi(_OwnListings, BaseApi):
    OutputSerializer: Any

    def post(self, request: Request, pk: str) -> Response:
        listing = services.listing_publish(listing=self.listing())
        return Response(self.OutputSerializer(listing).data)


class _ListingCloseApi(_OwnListings, BaseApi):
    OutputSerializer: Any

    def post(self, request: Request, pk: str) -> Response:
        listing = services.listing_set_status(listing=self.listing(), status=ListingStatus.CLOSED)
        return Response(self.OutputSerializer(listing).data)


class _PublishField(serializers.Serializer):
    publish = serializers.BooleanField(
        default=False, help_text="Publish at once (needs a verified organisation)."
    )


_PUBLISH_HELP = (
    "Publish a draft or paused {kind}: it goes live in the search and is matched. "
    "Needs a verified organisation."
)
_CLOSE_HELP = (
    "Close a {kind} for good: its proposed matches go, matches a facilitator already "
    "moved stay. A closed {kind} cannot be edited or published again."
)


@_list_doc("offer", OFFER_EXAMPLE, OfferSerializer)
class OfferListApi(_ListingListApi):
    kind = "offer"
    OutputSerializer = OfferSerializer
    empty_model = Offer


@_detail_doc("offer", OFFER_EXAMPLE, OfferSerializer)
class OfferDetailApi(_ListingDetailApi):
    kind = "offer"
    OutputSerializer = OfferSerializer


class OfferCreateApi(_ListingCreateApi):
    kind = "offer"
    model = Offer
    OutputSerializer = OfferSerializer

    class InputSerializer(OfferFieldsSerializer, _PublishField):
        pass

    @_create_doc("offer", OFFER_INPUT_EXAMPLE, InputSerializer, OfferSerializer)
    def post(self, request: Request) -> Response:
        return super().post(request)


class OfferUpdateApi(_ListingUpdateApi):
    kind = "offer"
    OutputSerializer = OfferSerializer

    class InputSerializer(OfferFieldsSerializer):
        pass

    @_update_doc("offer", InputSerializer, OfferSerializer)
    def patch(self, request: Request, pk: str) -> Response:
        return super().patch(request, pk)


@_action_doc(
    "offer",
    "publish",
    _PUBLISH_HELP.format(kind="offer"),
    ["listing_not_publishable", "organization_not_verified"],
    OfferSerializer,
)
class OfferPublishApi(_ListingPublishApi):
    kind = "offer"
    OutputSerializer = OfferSerializer


@_action_doc(
    "offer", "close", _CLOSE_HELP.format(kind="offer"), ["listing_closed"], OfferSerializer
)
class OfferCloseApi(_ListingCloseApi):
    kind = "offer"
    OutputSerializer = OfferSerializer


@_list_doc("demand", DEMAND_EXAMPLE, DemandSerializer)
class DemandListApi(_ListingListApi):
    kind = "demand"
    OutputSerializer = DemandSerializer
    empty_model = Demand


@_detail_doc("demand", DEMAND_EXAMPLE, DemandSerializer)
class DemandDetailApi(_ListingDetailApi):
    kind = "demand"
    OutputSerializer = DemandSerializer


class DemandCreateApi(_ListingCreateApi):
    kind = "demand"
    model = Demand
    OutputSerializer = DemandSerializer

    class InputSerializer(DemandFieldsSerializer, _PublishField):
        pass

    @_create_doc("demand", DEMAND_INPUT_EXAMPLE, InputSerializer, DemandSerializer)
    def post(self, request: Request) -> Response:
        return super().post(request)


class DemandUpdateApi(_ListingUpdateApi):
    kind = "demand"
    OutputSerializer = DemandSerializer

    class InputSerializer(DemandFieldsSerializer):
        pass

    @_update_doc("demand", InputSerializer, DemandSerializer)
    def patch(self, request: Request, pk: str) -> Response:
        return super().patch(request, pk)


@_action_doc(
    "demand",
    "publish",
    _PUBLISH_HELP.format(kind="demand"),
    ["listing_not_publishable", "organization_not_verified"],
    DemandSerializer,
)
class DemandPublishApi(_ListingPublishApi):
    kind = "demand"
    OutputSerializer = DemandSerializer


@_action_doc(
    "demand", "close", _CLOSE_HELP.format(kind="demand"), ["listing_closed"], DemandSerializer
)
class DemandCloseApi(_ListingCloseApi):
    kind = "demand"
    OutputSerializer = DemandSerializer


# --- sites -----------------------------------------------------------------------------------


class _OwnSites:
    def site(self: Any) -> Site:
        site_id = object_id(self.kwargs.get("pk"))
        found = (
            None
            if site_id is None
            else site_get_for_organizations(
                organization_ids=self.caller.organization_ids, site_id=site_id
            )
        )
        return get_or_404(found)


def _acting_organization(caller_organization_ids: tuple[int, ...], wanted: int | None) -> int:
    """The organisation a new object belongs to: the one asked for (one of the caller's), or the
    caller's only one."""
    if wanted is not None:
        if wanted not in caller_organization_ids:
            raise serializers.ValidationError({"organization": ["Not one of your organisations."]})
        return wanted
    if len(caller_organization_ids) != 1:
        raise serializers.ValidationError(
            {"organization": ["You belong to several organisations: say which one."]}
        )
    return caller_organization_ids[0]


@api_doc(
    summary="Your sites",
    description="The plants and depots of your organisation, newest first, with their exact "
    "location (yours) and the harbour region and nearest port derived from it.",
    responses=SiteSerializer(many=True),
    examples=[_response("A site", _page(SITE_EXAMPLE))],
    tags=["own sites"],
)
class SiteListApi(_OwnSites, SelectorListApi):
    OutputSerializer = SiteSerializer
    empty_model = Site

    def selector(self) -> QuerySet[Site]:
        return site_list_for_organizations(organization_ids=self.caller.organization_ids)


@api_doc(
    summary="One of your sites",
    description="A site of your organisation; another organisation's is not found.",
    responses=SiteSerializer,
    errors=OBJECT_ERRORS,
    examples=[_response("A site", SITE_EXAMPLE)],
    tags=["own sites"],
)
class SiteDetailApi(_OwnSites, SelectorDetailApi):
    OutputSerializer = SiteSerializer

    def selector(self) -> Site:
        return self.site()


class SiteCreateApi(_OwnSites, BaseApi):
    permission_classes = ORGANIZATION_PERMISSIONS

    class InputSerializer(SiteFieldsSerializer):
        organization = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=MAX_ID,
            help_text="Needed only by a member of several organisations (a session).",
        )

    @api_doc(
        summary="Create a site",
        description="A new site; its harbour region and nearest port are derived from lat/lon.",
        request=InputSerializer,
        responses=SiteSerializer,
        success=201,
        errors=(400, 401, 403, 429),
        examples=[
            _request("A plant", SITE_INPUT_EXAMPLE),
            _response("The site", SITE_EXAMPLE, 201),
        ],
        tags=["own sites"],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization_id = _acting_organization(
            self.caller.organization_ids, data.pop("organization", None)
        )
        site = services.site_create(
            organization=organization_get(organization_id=organization_id), **data
        )
        return Response(SiteSerializer(site).data, status=status.HTTP_201_CREATED)


class SiteUpdateApi(_OwnSites, BaseApi):
    class InputSerializer(SiteFieldsSerializer):
        pass

    @api_doc(
        summary="Update a site",
        description="Change a site; new coordinates re-derive its harbour region and nearest "
        "port and its published listings are matched again.",
        request=InputSerializer,
        responses=SiteSerializer,
        errors=WRITE_ERRORS,
        examples=[
            _request("Moved", {"lat": 51.96, "lon": 4.05}),
            _response("The site", SITE_EXAMPLE),
        ],
        tags=["own sites"],
    )
    def patch(self, request: Request, pk: str) -> Response:
        site = self.site()
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        site = services.site_update(site=site, **serializer.validated_data)
        return Response(SiteSerializer(site).data)


class SiteDeleteApi(_OwnSites, BaseApi):
    @api_doc(
        summary="Delete a site",
        description="Delete a site that no listing uses (closed listings keep theirs).",
        responses=None,
        success=204,
        errors=WRITE_ERRORS,
        codes={409: ["site_in_use"]},
        tags=["own sites"],
    )
    def delete(self, request: Request, pk: str) -> Response:
        services.site_delete(site=self.site())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- bulk import -----------------------------------------------------------------------------


class ListingImportApi(BaseApi):
    permission_classes = ORGANIZATION_PERMISSIONS
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(
            help_text=f"CSV or XLSX in the import_listings format, at most "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB; every row names your organisation."
        )
        dry_run = serializers.BooleanField(
            default=False, help_text="Check and count; write nothing."
        )
        organization = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=MAX_ID,
            help_text="Needed only by a member of several organisations (a session).",
        )

    class OutputSerializer(serializers.Serializer):
        created = serializers.DictField(child=serializers.IntegerField())
        updated = serializers.DictField(child=serializers.IntegerField())
        unchanged = serializers.DictField(child=serializers.IntegerField())
        dry_run = serializers.BooleanField()

    @api_doc(
        summary="Import offers and demands (all or nothing)",
        description="Upload a CSV or XLSX whose header row is `ref,kind,organization,nace,"
        "country,city,lat,lon,title,description,low_code,category,quantity,unit,frequency,"
        "waste_status,operation,max_distance_km` (the `import_listings` format). `ref` is your "
        "stable key: importing again updates rows and duplicates none. A file with any bad row "
        'imports nothing and answers `{"code": "import_rejected", "errors": {"<row>": '
        '{"<column>": ["reason"]}}}`.',
        request={"multipart/form-data": InputSerializer},
        responses=OutputSerializer,
        errors=(400, 401, 403, 429),
        codes={400: ["invalid", "import_file_invalid", "import_rejected"]},
        examples=[
            _response(
                "Two offers",
                {
                    "created": {"offer": 2, "demand": 0, "organization": 0},
                    "updated": {"offer": 0, "demand": 0, "organization": 0},
                    "unchanged": {"offer": 0, "demand": 0, "organization": 0},
                    "dry_run": False,
                },
            ),
            OpenApiExample(
                "A rejected file",
                value={
                    "code": "import_rejected",
                    "detail": "1 problem(s) found; nothing was imported.",
                    "errors": {"3": {"lat": ["'north' is not a number"]}},
                    "extra": {},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
        tags=["import"],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization_id = _acting_organization(
            self.caller.organization_ids, data.get("organization")
        )
        upload = data["file"]
        summary = import_listings(
            data=upload.read(MAX_FILE_BYTES + 1),
            filename=upload.name or "",
            actor=self.caller.user,
            dry_run=data["dry_run"],
            only_organization=organization_get(organization_id=organization_id),
        )
        return Response(
            self.OutputSerializer(
                {
                    "created": summary.created,
                    "updated": summary.updated,
                    "unchanged": summary.unchanged,
                    "dry_run": data["dry_run"],
                }
            ).data
        )


__all__ = [
    "CategoryListApi",
    "DemandCloseApi",
    "DemandCreateApi",
    "DemandDetailApi",
    "DemandListApi",
    "DemandPublishApi",
    "DemandUpdateApi",
    "ListingImportApi",
    "NaceListApi",
    "OfferCloseApi",
    "OfferCreateApi",
    "OfferDetailApi",
    "OfferListApi",
    "OfferPublishApi",
    "OfferUpdateApi",
    "OperationListApi",
    "PublicListingDetailApi",
    "PublicListingListApi",
    "SiteCreateApi",
    "SiteDeleteApi",
    "SiteDetailApi",
    "SiteListApi",
    "SiteUpdateApi",
    "WasteCodeDetailApi",
    "WasteCodeListApi",
]
