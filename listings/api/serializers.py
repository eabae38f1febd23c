"""Serializers the listings API shares deliberately: the outputs of an offer, a demand, a site
and an anonymised public listing (each returned by several operations), and the input fields
offers and demands have in common."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from harbors.selectors import country_list
from listings.models import (
    Demand,
    Frequency,
    ListingStatus,
    MaterialCategory,
    Offer,
    Operation,
    ResourceType,
    Site,
    Unit,
    WasteCode,
)
from listings.reference_tables import normalise_low_code
from listings.selectors import (
    listing_public_references,
    listing_ref_taken,
    material_categories_get,
    material_category_get,
    operation_get,
    redact_names,
    site_get_for_organizations,
    waste_code_get,
    waste_codes_get,
)
from listings.units import base_unit
from symbiosis.api import MAX_ID

ENERGY_UNITS = frozenset({Unit.MWH, Unit.GJ})
MAX_QUANTITY_DIGITS = 14


# --- reference rows --------------------------------------------------------------------------


class WasteCodeRefSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Six digits, e.g. 100102.")
    display_code = serializers.CharField(help_text='As printed in the List: "10 01 02".')
    title = serializers.CharField()
    hazardous = serializers.BooleanField()

    class Meta:
        ref_name = "WasteCodeRef"


class CategoryRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()

    class Meta:
        ref_name = "CategoryRef"


class RegionRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()

    class Meta:
        ref_name = "RegionRef"


# --- anonymised public listing ---------------------------------------------------------------


class PublicListingSerializer(serializers.Serializer):
    """A published listing with nothing that identifies its organisation: no name, no contact,
    no site and no database id; the location is rounded to 0.1 degree (about 10 km)."""

    # It reads a row of listings.selectors.listing_search_public (a dict). The fields below are
    # the contract (the OpenAPI schema is generated from them); to_representation writes the
    # same keys directly, without a DRF field call per value: the search answers 25 rows of 27
    # fields, and the generic path cost more than the database query (bench_api).
    # tests/api/test_listings_api.py holds the two to the same keys and types.

    public_id = serializers.CharField(
        help_text="Opaque and random; it cannot be enumerated or linked to the organisation."
    )
    kind = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    resource_type = serializers.ChoiceField(choices=ResourceType.choices)
    waste_code = WasteCodeRefSerializer(allow_null=True, read_only=True)
    category = CategoryRefSerializer(allow_null=True, read_only=True)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    unit = serializers.ChoiceField(choices=Unit.choices)
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    annual_quantity = serializers.DecimalField(
        max_digits=18, decimal_places=3, help_text="Per year, in base_unit."
    )
    base_unit = serializers.CharField(read_only=True)
    available_from = serializers.DateField(allow_null=True)
    available_until = serializers.DateField(allow_null=True)
    published_on = serializers.DateField(allow_null=True, read_only=True)
    country = serializers.CharField()
    region = RegionRefSerializer(allow_null=True, read_only=True)
    approx_lat = serializers.FloatField(help_text="Latitude rounded to 0.1 degree.")
    approx_lon = serializers.FloatField(help_text="Longitude rounded to 0.1 degree.")
    distance_km = serializers.FloatField(
        allow_null=True,
        read_only=True,
        help_text="From the search centre to the rounded location; only in a radius search.",
    )
    waste_status = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="Offers only: waste, by_product, end_of_waste, product or unknown.",
    )
    physical_form = serializers.CharField(allow_null=True, read_only=True, help_text="Offers only.")
    hazardous = serializers.BooleanField(
        read_only=True, help_text="An offer: hazardous; a demand: accepts hazardous material."
    )
    quantity_min = serializers.FloatField(
        allow_null=True,
        read_only=True,
        help_text="Demands only: the least quantity worth taking, in unit and frequency.",
    )
    max_distance_km = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="Demands only."
    )
    operation = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="Demands only: the recovery or disposal operation, e.g. R5.",
    )

    class Meta:
        ref_name = "PublicListing"

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        row = instance
        offer = row["kind"] == "offer"
        references = listing_public_references(row)
        name = row["organization_name"]
        distance = row.get("distance_km")
        published_at = row["published_at"]
        return {
            "public_id": row["public_id"],
            "kind": row["kind"],
            "title": redact_names(row["title"], name),
            "description": redact_names(row["description"], name),
            "resource_type": row["resource_type"],
            "waste_code": references["waste_code"],
            "category": references["category"],
            "quantity": _decimal(row["quantity"]),
            "unit": row["unit"],
            "frequency": row["frequency"],
            "annual_quantity": _decimal(row["annual_quantity"]),
            "base_unit": base_unit(row["unit"]),
            "available_from": _date(row["available_from"]),
            "available_until": _date(row["available_until"]),
            "published_on": _date(published_at.date()) if published_at else None,
            "country": row["country_id"],
            "region": references["region"],
            "approx_lat": row["approx_lat"],
            "approx_lon": row["approx_lon"],
            "distance_km": None if distance is None else round(distance, 1),
            "waste_status": row["waste_status"] if offer else None,
            "physical_form": row["physical_form"] if offer else None,
            "hazardous": row["hazardous"] if offer else row["accepts_hazardous"],
            "quantity_min": None if offer else _number(row["quantity_min"]),
            "max_distance_km": None if offer else row["max_distance_km"],
            "operation": None if offer else row["operation_id"],
        }


def _decimal(value: Decimal | None) -> str | None:
    """As DRF's DecimalField writes a quantity of 3 decimal places: "1200.000"."""
    return None if value is None else f"{value:.3f}"


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _date(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


# --- an organisation's own listings and sites ------------------------------------------------


class ListingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    public_id = serializers.CharField()
    ref = serializers.CharField()
    status = serializers.ChoiceField(choices=ListingStatus.choices)
    site = serializers.IntegerField(source="site_id")
    title = serializers.CharField()
    description = serializers.CharField()
    resource_type = serializers.ChoiceField(choices=ResourceType.choices)
    waste_code = serializers.CharField(source="waste_code_id", allow_null=True)
    category = serializers.CharField(source="category.slug", allow_null=True, default=None)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    unit = serializers.ChoiceField(choices=Unit.choices)
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    annual_quantity = serializers.DecimalField(max_digits=18, decimal_places=3)
    available_from = serializers.DateField(allow_null=True)
    available_until = serializers.DateField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OfferSerializer(ListingSerializer):
    waste_status = serializers.ChoiceField(choices=Offer.WasteStatus.choices)
    status_evidence = serializers.ChoiceField(choices=Offer.Evidence.choices)
    list_class = serializers.CharField()
    basel_code = serializers.CharField()
    hazardous = serializers.BooleanField()
    mixture = serializers.BooleanField()
    contaminated = serializers.BooleanField()
    pops = serializers.BooleanField()
    physical_form = serializers.CharField()
    price_eur_per_unit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    can_deliver = serializers.BooleanField()

    class Meta:
        ref_name = "Offer"


class DemandSerializer(ListingSerializer):
    accepted_codes = serializers.SerializerMethodField()
    accepted_categories = serializers.SerializerMethodField()
    quantity_min = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
    max_distance_km = serializers.IntegerField(allow_null=True)
    operation = serializers.CharField(source="operation_id", allow_null=True)
    has_permit = serializers.BooleanField()
    accepts_hazardous = serializers.BooleanField()

    class Meta:
        ref_name = "Demand"

    def get_accepted_codes(self, obj: Demand) -> list[str]:
        return [code.code for code in obj.accepted_codes.all()]

    def get_accepted_categories(self, obj: Demand) -> list[str]:
        return [category.slug for category in obj.accepted_categories.all()]


class SiteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField(source="country_id")
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    region = serializers.CharField(source="region.code", allow_null=True, default=None)
    nearest_port = serializers.CharField(
        source="nearest_port.unlocode", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Site"


# --- input -----------------------------------------------------------------------------------


class CountryCodeField(serializers.CharField):
    """An ISO 3166 alpha-2 code of a known country, in either case."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_length=2, max_length=2, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        code = super().run_validation(data)  # the text, with its length checked
        if not code:
            return code
        country = country_list().filter(code=code.upper()).first()
        if country is None:
            raise serializers.ValidationError(f"Unknown country {code!r}; use ISO codes: BE, NL.")
        return country


class SiteFieldsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    city = serializers.CharField(max_length=120, required=False, allow_blank=True)
    country = CountryCodeField()
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)


class ListingFieldsSerializer(serializers.Serializer):
    """What offers and demands share. ``context``: ``organization_ids`` (the caller's) and
    ``kind``; ``instance``: the listing being updated, so that cross-field rules see its
    current values."""

    ref = serializers.CharField(
        max_length=80, required=False, allow_blank=True, help_text="Your stable key."
    )
    site = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="One of your sites.")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    resource_type = serializers.ChoiceField(choices=ResourceType.choices, required=False)
    waste_code = serializers.CharField(
        max_length=12,
        required=False,
        allow_null=True,
        help_text="A List of Waste code: 100102, 10 01 02 or 10 01 02*.",
    )
    category = serializers.SlugField(
        max_length=60, required=False, allow_null=True, help_text="A material category slug."
    )
    quantity = serializers.DecimalField(
        max_digits=MAX_QUANTITY_DIGITS, decimal_places=3, min_value=Decimal("0.001")
    )
    unit = serializers.ChoiceField(choices=Unit.choices)
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    available_from = serializers.DateField(required=False, allow_null=True)
    available_until = serializers.DateField(required=False, allow_null=True)

    def validate_site(self, value: int) -> Site:
        site = site_get_for_organizations(
            organization_ids=self.context["organization_ids"], site_id=value
        )
        if site is None:
            raise serializers.ValidationError("Unknown site: give one of your own site ids.")
        if self.instance is not None and site.organization_id != self.instance.organization_id:
            raise serializers.ValidationError("The site belongs to another organisation.")
        return site

    def validate_waste_code(self, value: str | None) -> WasteCode | None:
        if value is None:
            return None
        try:
            code = waste_code_get(value)
        except ValueError:
            raise serializers.ValidationError(
                "Give a six-digit List of Waste code, e.g. 100102 or 10 01 02*."
            ) from None
        if code is None:
            raise serializers.ValidationError(f"{value!r} is not in the European List of Waste.")
        return code

    def validate_category(self, value: str | None) -> MaterialCategory | None:
        if value is None:
            return None
        category = material_category_get(slug=value)
        if category is None:
            raise serializers.ValidationError(f"Unknown category {value!r}.")
        return category

    def validate_ref(self, value: str) -> str:
        exclude = self.instance.pk if self.instance is not None else None
        if listing_ref_taken(kind=self.context["kind"], ref=value, exclude_id=exclude):
            raise serializers.ValidationError("Another listing already uses this ref.")
        return value

    def _current(self, data: dict[str, Any], name: str) -> Any:
        if name in data:
            return data[name]
        return getattr(self.instance, name, None) if self.instance is not None else None

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        start, end = self._current(data, "available_from"), self._current(data, "available_until")
        if start and end and end < start:
            errors["available_until"] = "Must not be before available_from."
        resource_type = self._current(data, "resource_type") or ResourceType.MATERIAL
        unit = self._current(data, "unit")
        if unit and (resource_type == ResourceType.ENERGY) != (unit in ENERGY_UNITS):
            errors["unit"] = f"{unit} does not fit a {resource_type} listing."
        if (
            self.instance is None
            and not data.get("waste_code")
            and not data.get("category")
            and resource_type == ResourceType.MATERIAL
        ):
            errors["waste_code"] = "Give a List of Waste code or a category."
        if errors:
            raise serializers.ValidationError(errors)
        return data


class OfferFieldsSerializer(ListingFieldsSerializer):
    waste_status = serializers.ChoiceField(choices=Offer.WasteStatus.choices, required=False)
    status_evidence = serializers.ChoiceField(choices=Offer.Evidence.choices, required=False)
    list_class = serializers.ChoiceField(
        choices=Offer.ListClass.choices, required=False, allow_blank=True
    )
    basel_code = serializers.CharField(max_length=12, required=False, allow_blank=True)
    hazardous = serializers.BooleanField(required=False)
    mixture = serializers.BooleanField(required=False)
    contaminated = serializers.BooleanField(required=False)
    pops = serializers.BooleanField(required=False)
    physical_form = serializers.ChoiceField(
        choices=Offer.PhysicalForm.choices, required=False, allow_blank=True
    )
    price_eur_per_unit = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )
    can_deliver = serializers.BooleanField(required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        code = data.get("waste_code")
        if code is not None and code.hazardous:
            data["hazardous"] = True  # an asterisk entry of the List of Waste is hazardous
        return data


class DemandFieldsSerializer(ListingFieldsSerializer):
    accepted_codes = serializers.ListField(
        child=serializers.CharField(max_length=12),
        required=False,
        max_length=50,
        help_text="List of Waste codes the demand also takes.",
    )
    accepted_categories = serializers.ListField(
        child=serializers.SlugField(max_length=60),
        required=False,
        max_length=50,
        help_text="Category slugs the demand also takes.",
    )
    quantity_min = serializers.DecimalField(
        max_digits=MAX_QUANTITY_DIGITS,
        decimal_places=3,
        min_value=Decimal("0.001"),
        required=False,
        allow_null=True,
        help_text="The least quantity worth taking, in unit and frequency; at most quantity.",
    )
    max_distance_km = serializers.IntegerField(
        min_value=1, max_value=20000, required=False, allow_null=True
    )
    operation = serializers.CharField(
        max_length=4, required=False, allow_null=True, help_text="R1-R13 or D1-D15."
    )
    has_permit = serializers.BooleanField(required=False)
    accepts_hazardous = serializers.BooleanField(required=False)

    def validate_accepted_codes(self, value: list[str]) -> list[WasteCode]:
        try:
            codes = [normalise_low_code(text) for text in value]
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        found = waste_codes_get(codes=codes)
        missing = sorted(set(codes) - set(found))
        if missing:
            raise serializers.ValidationError(f"Not in the List of Waste: {', '.join(missing)}.")
        return [found[c] for c in dict.fromkeys(codes)]

    def validate_accepted_categories(self, value: list[str]) -> list[MaterialCategory]:
        found = material_categories_get(slugs=value)
        missing = sorted(set(value) - set(found))
        if missing:
            raise serializers.ValidationError(f"Unknown categories: {', '.join(missing)}.")
        return [found[s] for s in dict.fromkeys(value)]

    def validate_operation(self, value: str | None) -> Operation | None:
        if value is None:
            return None
        operation = operation_get(code=value)
        if operation is None:
            raise serializers.ValidationError("Give an operation R1-R13 or D1-D15.")
        return operation

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        minimum, quantity = self._current(data, "quantity_min"), self._current(data, "quantity")
        if minimum is not None and quantity is not None and minimum > quantity:
            raise serializers.ValidationError({"quantity_min": "Must not exceed quantity."})
        return data
