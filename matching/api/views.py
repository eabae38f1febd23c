"""The partner API of matching: an organisation's matches and its answers, the facilitators'
queue and stage moves, prospects for an own offer, the shipment-procedure question and the
impact statistics.

Every read goes through a scoped selector (matching.selectors); every change through
matching.workflow, the same services the portal calls. Another caller's match is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response as HttpResponse

from listings.selectors import (
    CompanyMatch,
    company_match_view,
    listing_get_for_organizations,
    listing_public_text,
)
from listings.units import base_unit
from matching.filters import MatchApiFilter
from matching.impact import IMPACT_COLUMNS, ImpactStatus, impact_totals
from matching.legal import Evidence, ListClass, Procedure, WasteStatus
from matching.models import LegalProcedure, Match, Prospect, Response, Stage
from matching.selectors import (
    match_get_for_facilitator,
    match_get_for_organizations,
    match_list_for_organizations,
    match_queue_for_facilitator,
    match_references_fill,
    prospect_list_for_offer,
)
from matching.shipments import shipment_question_answer
from matching.workflow import match_respond, match_set_stage
from symbiosis.api import ApiToken, get_or_404, object_id
from symbiosis.api_docs import OBJECT_ERRORS, READ_ERRORS, WRITE_ERRORS, api_doc
from symbiosis.api_views import BaseApi, SelectorDetailApi, SelectorListApi


def _response(name: str, value: Any, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


def _request(name: str, value: Any) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


def _page(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"next": None, "previous": None, "results": list(rows)}


SCORES = {
    "score": 0.82,
    "material_score": 0.95,
    "quantity_score": 0.8,
    "distance_score": 0.77,
    "legal_score": 0.9,
    "timing_score": 1.0,
    "distance_km": 38.2,
    "transport_mode": "road",
    "cost_eur_per_tonne": 4.1,
    "co2_kg_per_tonne": 3.6,
    "tonnes_per_year": 14400.0,
    "legal_procedure": "general_information",
    "legal_flags": ["cross_border"],
    "explanation": "same code 10 01 02; 38 km by road; BE→NL green-listed: Annex VII document",
}


# --- an organisation's matches ---------------------------------------------------------------


class _ScoresSerializer(serializers.Serializer):
    """The scores, logistics and legal facts of a match."""

    id = serializers.IntegerField()
    score = serializers.FloatField()
    material_score = serializers.FloatField()
    quantity_score = serializers.FloatField()
    distance_score = serializers.FloatField()
    legal_score = serializers.FloatField()
    timing_score = serializers.FloatField()
    distance_km = serializers.FloatField()
    transport_mode = serializers.CharField()
    cost_eur_per_tonne = serializers.FloatField(allow_null=True)
    co2_kg_per_tonne = serializers.FloatField(allow_null=True)
    tonnes_per_year = serializers.FloatField(allow_null=True)
    legal_procedure = serializers.ChoiceField(choices=LegalProcedure.choices)
    legal_flags = serializers.ListField(child=serializers.CharField())
    explanation = serializers.CharField()
    stage = serializers.ChoiceField(choices=Stage.choices)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "MatchScores"


class OwnListingRefSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.IntegerField()
    public_id = serializers.CharField()
    title = serializers.CharField()

    class Meta:
        ref_name = "OwnListingRef"


class CounterpartSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="Sector, harbour region, country and distance.")
    title = serializers.CharField()
    resource_type = serializers.CharField()
    waste_code = serializers.CharField(allow_null=True)
    annual_quantity = serializers.DecimalField(max_digits=18, decimal_places=3)
    base_unit = serializers.CharField()

    class Meta:
        ref_name = "Counterpart"


class ContactSerializer(serializers.Serializer):
    organization = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()

    class Meta:
        ref_name = "Contact"


class CompanyMatchSerializer(serializers.Serializer):
    """A match as one organisation sees it. The counterpart is anonymised until a facilitator
    introduced both sides and both said "interested"; only then ``contact`` is filled."""

    id = serializers.IntegerField(source="match.id")
    side = serializers.ChoiceField(choices=[("offer", "offer"), ("demand", "demand")])
    stage = serializers.ChoiceField(source="match.stage", choices=Stage.choices)
    scores = _ScoresSerializer(source="match")
    own_listing = serializers.SerializerMethodField()
    counterpart = serializers.SerializerMethodField()
    response = serializers.ChoiceField(choices=Response.choices, allow_blank=True)
    response_reason = serializers.CharField()
    contact = ContactSerializer(allow_null=True)

    class Meta:
        ref_name = "CompanyMatch"

    @extend_schema_field(OwnListingRefSerializer)
    def get_own_listing(self, obj: CompanyMatch) -> dict[str, Any]:
        return OwnListingRefSerializer(
            {
                "kind": obj.side,
                "id": obj.own.pk,
                "public_id": obj.own.public_id,
                "title": obj.own.title,
            }
        ).data

    @extend_schema_field(CounterpartSerializer)
    def get_counterpart(self, obj: CompanyMatch) -> dict[str, Any]:
        other = obj.match.demand if obj.side == "offer" else obj.match.offer
        return CounterpartSerializer(
            {
                "label": obj.counterpart_label,
                "title": listing_public_text(other, obj.counterpart.title),
                "resource_type": obj.counterpart.resource_type,
                "waste_code": other.waste_code_id,
                "annual_quantity": obj.counterpart.annual_quantity,
                "base_unit": obj.counterpart.base_unit,
            }
        ).data


COMPANY_MATCH_EXAMPLE = {
    "id": 5521,
    "side": "offer",
    "stage": "introduced",
    "scores": {"id": 5521, **SCORES, "stage": "introduced", "created_at": "2026-03-03T02:00:00Z"},
    "own_listing": {
        "kind": "offer",
        "id": 412,
        "public_id": "off_Xq3v9Lr2PzT0aB7c",
        "title": "Fly ash from a coal-fired boiler",
    },
    "counterpart": {
        "label": "a company in manufacture of cement (NACE 23.51) in the Port of Antwerp-Bruges "
        "region, BE, 38 km",
        "title": "Raw material for clinker",
        "resource_type": "material",
        "waste_code": "100102",
        "annual_quantity": "24000.000",
        "base_unit": "t",
    },
    "response": "interested",
    "response_reason": "",
    "contact": None,
}


def _company_view(match: Match, organization_ids: tuple[int, ...]) -> CompanyMatch:
    match_references_fill(match)
    own = (
        match.offer.organization_id
        if match.offer.organization_id in organization_ids
        else match.demand.organization_id
    )
    return company_match_view(match=match, organization_id=own)


class _CompanyMatches:
    def match(self: Any) -> Match:
        match_id = object_id(self.kwargs.get("pk"))
        found = (
            None
            if match_id is None
            else match_get_for_organizations(
                organization_ids=self.caller.organization_ids, match_id=match_id
            )
        )
        return get_or_404(found)


@api_doc(
    summary="Your matches",
    description="The matches of your organisation's offers and demands, best first, without "
    "rejected or withdrawn ones. The counterpart is anonymised (sector, region, country, "
    "distance) until a facilitator introduced you and both sides said interested.",
    responses=CompanyMatchSerializer(many=True),
    examples=[_response("An introduced match", _page(COMPANY_MATCH_EXAMPLE))],
    tags=["matches"],
)
class MatchListApi(_CompanyMatches, SelectorListApi):
    OutputSerializer = CompanyMatchSerializer
    filterset_class = MatchApiFilter
    cursor_ordering = ("-score", "id")
    empty_model = Match

    def selector(self) -> QuerySet[Match]:
        return match_list_for_organizations(organization_ids=self.caller.organization_ids)

    def project(self, obj: Match) -> CompanyMatch:
        return _company_view(obj, self.caller.organization_ids)


@api_doc(
    summary="One of your matches",
    description="A match of your organisation; any other is not found.",
    responses=CompanyMatchSerializer,
    errors=OBJECT_ERRORS,
    examples=[_response("An introduced match", COMPANY_MATCH_EXAMPLE)],
    tags=["matches"],
)
class MatchDetailApi(_CompanyMatches, SelectorDetailApi):
    OutputSerializer = CompanyMatchSerializer

    def selector(self) -> Match:
        return self.match()

    def project(self, obj: Match) -> CompanyMatch:
        return _company_view(obj, self.caller.organization_ids)


class MatchRespondApi(_CompanyMatches, BaseApi):
    class InputSerializer(serializers.Serializer):
        response = serializers.ChoiceField(
            choices=[Response.INTERESTED, Response.NOT_INTERESTED],
            help_text="interested or not_interested.",
        )
        reason = serializers.CharField(
            max_length=2000,
            required=False,
            default="",
            allow_blank=True,
            help_text="Required when not interested.",
        )

    @api_doc(
        summary="Answer a match",
        description="Say whether your organisation is interested. Not interested needs a "
        "reason. When both sides are interested after an introduction, each sees the other's "
        "contact details.",
        request=InputSerializer,
        responses=CompanyMatchSerializer,
        errors=WRITE_ERRORS,
        codes={
            400: ["invalid", "match_note_required"],
            403: ["permission_denied", "match_not_permitted"],
            409: ["match_stage_invalid"],
        },
        examples=[
            _request("Interested", {"response": "interested"}),
            _request("Not interested", {"response": "not_interested", "reason": "Too far."}),
            _response("The match", COMPANY_MATCH_EXAMPLE),
        ],
        tags=["matches"],
    )
    def post(self, request: Request, pk: str) -> HttpResponse:
        match = self.match()
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        match_respond(
            match=match,
            user=self.caller.user,
            organization_ids=self.caller.organization_ids,
            **serializer.validated_data,
        )
        match = self.match()
        return HttpResponse(
            CompanyMatchSerializer(_company_view(match, self.caller.organization_ids)).data
        )


# --- the facilitators' queue -----------------------------------------------------------------


class PartySerializer(serializers.Serializer):
    public_id = serializers.CharField()
    title = serializers.CharField()
    organization = serializers.CharField(source="organization.name")
    country = serializers.CharField(source="site.country_id")
    region = serializers.CharField(source="site.region.code", allow_null=True, default=None)
    waste_code = serializers.CharField(source="waste_code_id", allow_null=True)
    annual_quantity = serializers.DecimalField(max_digits=18, decimal_places=3)
    base_unit = serializers.SerializerMethodField()

    class Meta:
        ref_name = "MatchParty"

    def get_base_unit(self, obj: Any) -> str:
        return base_unit(obj.unit)


class FacilitatorMatchSerializer(_ScoresSerializer):
    """A match as the neutral facilitator sees it: both parties by name."""

    stage_changed_at = serializers.DateTimeField(allow_null=True)
    offer = PartySerializer()
    demand = PartySerializer()
    offer_response = serializers.ChoiceField(choices=Response.choices, allow_blank=True)
    offer_response_reason = serializers.CharField()
    demand_response = serializers.ChoiceField(choices=Response.choices, allow_blank=True)
    demand_response_reason = serializers.CharField()
    implemented_tonnes_per_year = serializers.FloatField(allow_null=True)
    implemented_eur_saved_per_year = serializers.FloatField(allow_null=True)

    class Meta:
        ref_name = "FacilitatorMatch"


def _party(title: str, organization: str, country: str) -> dict[str, Any]:
    return {
        "public_id": "off_Xq3v9Lr2PzT0aB7c",
        "title": title,
        "organization": organization,
        "country": country,
        "region": "rotterdam-moerdijk",
        "waste_code": "100102",
        "annual_quantity": "14400.000",
        "base_unit": "t",
    }


FACILITATOR_MATCH_EXAMPLE = {
    "id": 5521,
    **SCORES,
    "stage": "shortlisted",
    "created_at": "2026-03-03T02:00:00Z",
    "stage_changed_at": "2026-03-04T08:30:00Z",
    "offer": _party("Fly ash from a coal-fired boiler", "Maasvlakte Power BV", "NL"),
    "demand": _party("Raw material for clinker", "Cementerie de l'Escaut", "BE"),
    "offer_response": "",
    "offer_response_reason": "",
    "demand_response": "",
    "demand_response_reason": "",
    "implemented_tonnes_per_year": None,
    "implemented_eur_saved_per_year": None,
}


class _Queue:
    required_scope = ApiToken.Scope.FACILITATE

    def match(self: Any) -> Match:
        match_id = object_id(self.kwargs.get("pk"))
        found = (
            None
            if match_id is None
            else match_get_for_facilitator(user=self.caller.user, match_id=match_id)
        )
        return match_references_fill(get_or_404(found))


@api_doc(
    summary="The facilitator's queue",
    description="Matches touching your harbour regions (staff: all), best first. Needs the "
    "facilitate scope.",
    responses=FacilitatorMatchSerializer(many=True),
    examples=[_response("A shortlisted match", _page(FACILITATOR_MATCH_EXAMPLE))],
    tags=["facilitation"],
)
class MatchQueueListApi(_Queue, SelectorListApi):
    OutputSerializer = FacilitatorMatchSerializer
    filterset_class = MatchApiFilter
    cursor_ordering = ("-score", "id")
    empty_model = Match

    def selector(self) -> QuerySet[Match]:
        return match_queue_for_facilitator(user=self.caller.user)

    def project(self, obj: Match) -> Match:
        return match_references_fill(obj)


@api_doc(
    summary="One match of the queue",
    description="A match of your harbour regions; any other is not found.",
    responses=FacilitatorMatchSerializer,
    errors=OBJECT_ERRORS,
    examples=[_response("A shortlisted match", FACILITATOR_MATCH_EXAMPLE)],
    tags=["facilitation"],
)
class MatchQueueDetailApi(_Queue, SelectorDetailApi):
    OutputSerializer = FacilitatorMatchSerializer

    def selector(self) -> Match:
        return self.match()


class MatchStageSetApi(_Queue, BaseApi):
    class InputSerializer(serializers.Serializer):
        stage = serializers.ChoiceField(choices=Stage.choices)
        note = serializers.CharField(
            max_length=2000,
            required=False,
            default="",
            allow_blank=True,
            help_text="Required to reject.",
        )
        tonnes_per_year = serializers.FloatField(
            min_value=0,
            max_value=1e9,
            required=False,
            allow_null=True,
            default=None,
            help_text="Required for implemented.",
        )
        eur_saved_per_year = serializers.FloatField(
            min_value=-1e12,
            max_value=1e12,
            required=False,
            allow_null=True,
            default=None,
            help_text="Required for implemented.",
        )

    @api_doc(
        summary="Move a match along the pipeline",
        description="proposed → shortlisted → introduced → negotiating → implemented, or "
        "rejected (with a note) or withdrawn. Introducing emails both organisations. Every "
        "move is written to the match's audit trail.",
        request=InputSerializer,
        responses=FacilitatorMatchSerializer,
        errors=WRITE_ERRORS,
        codes={
            400: ["invalid", "match_note_required", "match_outcome_required"],
            403: ["permission_denied", "match_not_permitted"],
            409: ["match_stage_invalid"],
        },
        examples=[
            _request("Shortlist", {"stage": "shortlisted"}),
            _request("Reject", {"stage": "rejected", "note": "Both prefer a local partner."}),
            _request(
                "Implemented",
                {"stage": "implemented", "tonnes_per_year": 12000, "eur_saved_per_year": 90000},
            ),
            _response("The match", FACILITATOR_MATCH_EXAMPLE),
        ],
        tags=["facilitation"],
    )
    def post(self, request: Request, pk: str) -> HttpResponse:
        match = self.match()
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        match_set_stage(
            match=match,
            user=self.caller.user,
            to_stage=data["stage"],
            note=data["note"],
            tonnes_per_year=data["tonnes_per_year"],
            eur_saved_per_year=data["eur_saved_per_year"],
        )
        return HttpResponse(FacilitatorMatchSerializer(self.match()).data)


# --- prospects -------------------------------------------------------------------------------


class ProspectSerializer(serializers.Serializer):
    """An organisation whose sector could use the offer, anonymised: its sector, country and
    distance, never its name or id."""

    rank = serializers.IntegerField()
    score = serializers.FloatField()
    sector_score = serializers.FloatField()
    distance_km = serializers.FloatField()
    legal_procedure = serializers.ChoiceField(choices=LegalProcedure.choices)
    explanation = serializers.CharField()
    nace = serializers.CharField(source="organization.nace.code", allow_null=True, default=None)
    sector = serializers.CharField(source="organization.nace.title", allow_null=True, default=None)
    country = serializers.CharField(source="organization.country_id")

    class Meta:
        ref_name = "Prospect"


@api_doc(
    summary="Prospects for one of your offers",
    description="Organisations that posted no matching demand but whose sector (NACE) "
    "typically uses the material, ranked; anonymised. A facilitator makes the introduction.",
    responses=ProspectSerializer(many=True),
    errors=OBJECT_ERRORS,
    examples=[
        _response(
            "A cement plant",
            _page(
                {
                    "rank": 1,
                    "score": 0.71,
                    "sector_score": 0.9,
                    "distance_km": 42.0,
                    "legal_procedure": "general_information",
                    "explanation": "cement (NACE 23.51) typically uses fly ash: raw material "
                    "for clinker; 42 km by road; BE→NL green-listed: Annex VII document",
                    "nace": "23.51",
                    "sector": "Manufacture of cement",
                    "country": "BE",
                }
            ),
        )
    ],
    tags=["matches"],
)
class ProspectListApi(SelectorListApi):
    OutputSerializer = ProspectSerializer
    cursor_ordering = ("rank",)
    empty_model = Prospect

    def selector(self) -> QuerySet[Prospect]:
        offer_id = object_id(self.kwargs.get("pk"))
        offer = (
            None
            if offer_id is None
            else listing_get_for_organizations(
                kind="offer", organization_ids=self.caller.organization_ids, listing_id=offer_id
            )
        )
        return prospect_list_for_offer(offer=get_or_404(offer))


# --- the shipment-procedure question ---------------------------------------------------------


def _choices(enum: Any) -> list[str]:
    return [member.value for member in enum]


class ShipmentProcedureApi(BaseApi):
    class InputSerializer(serializers.Serializer):
        origin = serializers.CharField(
            min_length=2, max_length=2, help_text="Country of dispatch, e.g. BE."
        )
        destination = serializers.CharField(
            min_length=2, max_length=2, help_text="Country of destination, e.g. NL."
        )
        status = serializers.ChoiceField(choices=_choices(WasteStatus), help_text="Waste status.")
        operation = serializers.CharField(max_length=4, help_text="R1-R13 or D1-D15.")
        low_code = serializers.CharField(
            max_length=12, required=False, help_text="List of Waste code: 100102 or 10 01 02."
        )
        evidence = serializers.ChoiceField(
            choices=_choices(Evidence), required=False, default="none"
        )
        list_class = serializers.ChoiceField(choices=_choices(ListClass), required=False)
        basel_code = serializers.CharField(max_length=12, required=False)
        mixture = serializers.BooleanField(required=False, default=False)
        contaminated = serializers.BooleanField(required=False, default=False)
        pops = serializers.BooleanField(required=False, default=False)
        date = serializers.DateField(
            required=False, help_text="Shipment date (default: from 21 May 2026)."
        )

    class OutputSerializer(serializers.Serializer):
        procedure = serializers.ChoiceField(choices=_choices(Procedure))
        flags = serializers.ListField(child=serializers.CharField())
        legal_basis = serializers.ListField(child=serializers.CharField())
        documents = serializers.ListField(child=serializers.CharField())
        indicative = serializers.CharField()

    @api_doc(
        summary="Which shipment procedure applies",
        description="The indicative procedure under Regulation (EU) 2024/1157 for shipping a "
        "material between two countries: none, general_information (Annex VII), notification, "
        "notification_disposal or prohibited, with flags, legal basis and documents. The same "
        "answer as `manage.py shipment_procedure --json`.",
        parameters=[InputSerializer],
        responses=OutputSerializer,
        errors=READ_ERRORS,
        codes={400: ["invalid", "shipment_input_invalid"]},
        examples=[
            _response(
                "Fly ash BE→NL for R5",
                {
                    "procedure": "general_information",
                    "flags": [],
                    "legal_basis": ["Regulation (EU) 2024/1157, Art. 18"],
                    "documents": ["Annex VII document"],
                    "indicative": "indicative; the competent authorities decide",
                },
            )
        ],
        tags=["legal"],
    )
    def get(self, request: Request) -> HttpResponse:
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        answer = shipment_question_answer(
            origin=data.pop("origin").upper(),
            destination=data.pop("destination").upper(),
            operation=data.pop("operation").strip().upper(),
            **data,
        )
        return HttpResponse(self.OutputSerializer(answer.as_dict()).data)


# --- impact ----------------------------------------------------------------------------------


class ImpactApi(BaseApi):
    class InputSerializer(serializers.Serializer):
        region = serializers.CharField(
            max_length=40,
            required=False,
            help_text='A harbour region code, or "none" for offers outside every region.',
        )

    class OutputSerializer(serializers.Serializer):
        class RowSerializer(serializers.Serializer):
            region = serializers.CharField()
            origin_country = serializers.CharField(help_text="Empty on a region's total row.")
            destination_country = serializers.CharField()
            status = serializers.ChoiceField(choices=_choices(ImpactStatus))
            count = serializers.IntegerField()
            tonnes_per_year = serializers.FloatField()
            co2_tonnes_per_year = serializers.FloatField()
            cross_border_share = serializers.FloatField()

            class Meta:
                ref_name = "ImpactRow"

        columns = serializers.ListField(child=serializers.CharField())
        rows = RowSerializer(many=True)

    @api_doc(
        summary="Impact statistics per harbour region",
        description="Per region, country pair and status (implemented, or proposed: every open "
        "stage), the matches, tonnes a year and transport CO2, then each region's totals "
        "(empty countries). A match counts in the region of its offer's site.",
        parameters=[InputSerializer],
        responses=OutputSerializer,
        errors=READ_ERRORS,
        codes={400: ["invalid", "harbor_region_unknown"]},
        examples=[
            _response(
                "Rotterdam",
                {
                    "columns": list(IMPACT_COLUMNS),
                    "rows": [
                        {
                            "region": "rotterdam-moerdijk",
                            "origin_country": "",
                            "destination_country": "",
                            "status": "implemented",
                            "count": 3,
                            "tonnes_per_year": 41000.0,
                            "co2_tonnes_per_year": 210.5,
                            "cross_border_share": 0.33,
                        }
                    ],
                },
            )
        ],
        tags=["statistics"],
    )
    def get(self, request: Request) -> HttpResponse:
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        rows = impact_totals(region_code=serializer.validated_data.get("region"))
        return HttpResponse(
            self.OutputSerializer(
                {"columns": list(IMPACT_COLUMNS), "rows": [row.as_dict() for row in rows]}
            ).data
        )
