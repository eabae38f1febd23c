"""FilterSets of listings, used by the selectors and the partner API.

Every filter validates its value in its form field, so a bad query parameter is a 400 with the
parameter named, never a database error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from harbors.selectors import country_codes, harbor_region_ids_by_code

from .models import ListingStatus, NaceCode, ResourceType, WasteCode
from .selectors import (
    listing_filter_near,
    low_code_range,
    material_category_descendants_by_slug,
)

KIND_CHOICES = (("offer", "offer"), ("demand", "demand"))
_LOW_PREFIX = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")
MAX_RADIUS_KM = 1000
MAX_QUANTITY = Decimal("1e16")


class LowCodePrefixField(forms.CharField):
    """A List of Waste code or prefix: "10" (chapter), "1001" (sub-chapter), "100102", or the
    spaced and starred forms "10 01", "10 01 02*"."""

    def clean(self, value: Any) -> str | None:
        value = super().clean(value)
        if not value:
            return None
        digits = re.sub(r"[\s*-]", "", value)
        if not _LOW_PREFIX.fullmatch(digits):
            raise forms.ValidationError(
                "Give a List of Waste code or prefix of 2, 4 or 6 digits, e.g. 10, 10 01, "
                "10 01 02.",
                code="invalid",
            )
        return digits


class LowCodePrefixFilter(django_filters.CharFilter):
    field_class = LowCodePrefixField

    def filter(self, qs: QuerySet, value: str | None) -> QuerySet:
        if not value:
            return qs
        if len(value) == 6:  # a whole code: the (waste_code, created_at) index, in order
            return qs.filter(waste_code_id=value)
        low, high = low_code_range(value)
        return qs.filter(waste_code_id__gte=low, waste_code_id__lte=high)


class ReferenceCodeField(forms.CharField):
    """A code that must be one of ``codes()`` (a cached reference table: no query)."""

    def __init__(
        self, *, codes: Callable[[], Collection[str]], upper: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.codes, self.upper = codes, upper

    def clean(self, value: Any) -> str | None:
        value = super().clean(value)
        if not value:
            return None
        code = value.strip().upper() if self.upper else value.strip()
        if code not in self.codes():
            raise forms.ValidationError(f"Unknown code {value!r}.", code="invalid_choice")
        return code


class ReferenceCodeFilter(django_filters.CharFilter):
    field_class = ReferenceCodeField


class PublicListingForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        near = ("lat", "lon", "radius_km")
        given = [name for name in near if data.get(name) is not None]
        if given and len(given) != len(near):
            raise forms.ValidationError(
                {
                    name: "Give lat, lon and radius_km together."
                    for name in near
                    if name not in given and name not in self.errors
                }
            )
        return data


class PublicListingFilter(django_filters.FilterSet):
    """The anonymised search over published listings. ``kind`` picks offers (the default) or
    demands; the selector reads it, so it filters nothing here."""

    kind = django_filters.ChoiceFilter(
        choices=KIND_CHOICES,
        method="_kind",
        help_text="offer (the default) or demand.",
    )
    resource_type = django_filters.ChoiceFilter(
        choices=ResourceType.choices, help_text="material, energy or water."
    )
    waste_code = LowCodePrefixFilter(
        help_text="A List of Waste code or prefix: 10 (chapter), 1001 (sub-chapter), 100102; "
        "spaces and the asterisk are ignored.",
        max_length=12,
    )
    category = ReferenceCodeFilter(
        codes=material_category_descendants_by_slug,
        method="_category",
        max_length=60,
        help_text="A material category slug; its sub-categories are included.",
    )
    country = ReferenceCodeFilter(
        codes=country_codes,
        upper=True,
        field_name="country_id",
        max_length=2,
        help_text="ISO 3166 alpha-2 code of the listing's country, e.g. BE.",
    )
    region = ReferenceCodeFilter(
        codes=harbor_region_ids_by_code,
        method="_region",
        max_length=40,
        help_text="Harbour region code, e.g. rotterdam-moerdijk (see /api/v1/harbors/regions/).",
    )
    quantity_min = django_filters.NumberFilter(
        field_name="annual_quantity",
        lookup_expr="gte",
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="At least this much a year, in the base unit (t for matter, MWh for energy).",
    )
    quantity_max = django_filters.NumberFilter(
        field_name="annual_quantity",
        lookup_expr="lte",
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="At most this much a year, in the base unit (t for matter, MWh for energy).",
    )
    lat = django_filters.NumberFilter(
        method="_ignore",
        min_value=-90,
        max_value=90,
        help_text="Latitude of the centre of a radius search (with lon and radius_km).",
    )
    lon = django_filters.NumberFilter(
        method="_ignore",
        min_value=-180,
        max_value=180,
        help_text="Longitude of the centre of a radius search (with lat and radius_km).",
    )
    radius_km = django_filters.NumberFilter(
        method="_near",
        min_value=Decimal("0.1"),
        max_value=MAX_RADIUS_KM,
        help_text=f"Radius in km (at most {MAX_RADIUS_KM}) around lat/lon, measured to the "
        "listing's rounded location.",
    )

    class Meta:
        # No model: the same filters serve offers and demands (their fields share names).
        form = PublicListingForm

    def get_form_class(self) -> type[forms.Form]:
        """The form class, built once per process: it depends only on the declared filters,
        never on the request, and django-filter would build a field and a label for each
        filter on every call of this hot search (bench_api)."""
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            cls._form_class = form_class
        return form_class

    def _kind(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    def _ignore(self, queryset: QuerySet, name: str, value: Decimal) -> QuerySet:
        return queryset

    def _category(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(category_id__in=material_category_descendants_by_slug()[value])

    def _region(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(region_id=harbor_region_ids_by_code()[value])

    def _near(self, queryset: QuerySet, name: str, value: Decimal) -> QuerySet:
        data = self.form.cleaned_data
        return listing_filter_near(
            queryset, lat=float(data["lat"]), lon=float(data["lon"]), radius_km=float(value)
        )


class WasteCodeFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="_search",
        max_length=100,
        help_text="A code or prefix (10, 10 01, 100102) or words of the title (fly ash).",
    )
    hazardous = django_filters.BooleanFilter(help_text="Only hazardous (true) or only not.")

    class Meta:
        model = WasteCode
        fields: list[str] = []

    def _search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        from .selectors import waste_code_list_matching

        return waste_code_list_matching(queryset, q=value)


class OwnListingFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ListingStatus.choices)
    ref = django_filters.CharFilter(max_length=80, help_text="Your stable key, exactly.")


class NaceFilter(django_filters.FilterSet):
    version = django_filters.ChoiceFilter(choices=NaceCode.Version.choices)
    level = django_filters.ChoiceFilter(choices=NaceCode.Level.choices)
    q = django_filters.CharFilter(
        method="_search", max_length=100, help_text="A code prefix (23.5) or words of the title."
    )

    class Meta:
        model = NaceCode
        fields: list[str] = []

    def _search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        from .selectors import nace_list_matching

        return nace_list_matching(queryset, q=value)
