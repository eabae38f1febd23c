"""FilterSets of matching, used by selectors (the facilitator queue) and the APIs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from harbors.countries import COUNTRIES
from listings.reference_tables import WasteLevel, read_list_of_waste

from .models import LegalProcedure, Match, Stage

OPEN_STAGES = (Stage.PROPOSED, Stage.SHORTLISTED, Stage.INTRODUCED, Stage.NEGOTIATING)
STAGE_OPEN = "open"
STAGE_ALL = "all"


@cache
def chapter_choices() -> list[tuple[str, str]]:
    """The 20 chapters of the List of Waste, read once per process from the bundled table."""
    return [
        (row.code, f"{row.code} {row.title[:60]}")
        for row in read_list_of_waste()
        if row.level == WasteLevel.CHAPTER
    ]


def country_choices() -> list[tuple[str, str]]:
    return sorted(((c.code, f"{c.code} {c.name}") for c in COUNTRIES.values()), key=lambda c: c[0])


def overdue_condition(*, now: Any = None) -> Q:
    """Introduced longer than MATCHING_REMINDER_DAYS ago and one side has not answered."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.MATCHING_REMINDER_DAYS)
    return Q(stage=Stage.INTRODUCED, stage_changed_at__lt=cutoff) & (
        Q(offer_response="") | Q(demand_response="")
    )


class MatchQueueFilter(django_filters.FilterSet):
    """The facilitator queue's filters. ``regions`` (id, name) are the facilitator's own: a
    region outside them is not a valid choice, so the filter can never widen the scope."""

    region = django_filters.TypedChoiceFilter(
        label=_("Harbour region"), method="filter_region", coerce=int, empty_value=None
    )
    origin = django_filters.ChoiceFilter(
        label=_("Origin country"), field_name="offer__site__country_id"
    )
    destination = django_filters.ChoiceFilter(
        label=_("Destination country"), field_name="demand__site__country_id"
    )
    chapter = django_filters.ChoiceFilter(label=_("List of Waste chapter"), method="filter_chapter")
    procedure = django_filters.ChoiceFilter(
        label=_("Legal procedure"), field_name="legal_procedure", choices=LegalProcedure.choices
    )
    stage = django_filters.ChoiceFilter(
        label=_("Stage"),
        method="filter_stage",
        choices=[(STAGE_OPEN, _("Open (default)")), (STAGE_ALL, _("All")), *Stage.choices],
        empty_label=None,
        null_value=None,
    )
    min_score = django_filters.NumberFilter(
        label=_("Minimum score"),
        field_name="score",
        lookup_expr="gte",
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue only"),
        method="filter_overdue",
        widget=django_filters.widgets.BooleanWidget,
    )

    class Meta:
        model = Match
        fields: Sequence[str] = []

    def __init__(
        self, data: Any = None, queryset: QuerySet[Match] | None = None, *, regions: Any = ()
    ) -> None:
        super().__init__(data, queryset)
        self.filters["region"].extra["choices"] = [(r.id, r.name) for r in regions]
        self.filters["origin"].extra["choices"] = country_choices()
        self.filters["destination"].extra["choices"] = country_choices()
        self.filters["chapter"].extra["choices"] = chapter_choices()

    def filter_region(self, queryset: QuerySet[Match], name: str, value: int) -> QuerySet[Match]:
        return queryset.filter(Q(offer__site__region_id=value) | Q(demand__site__region_id=value))

    def filter_chapter(self, queryset: QuerySet[Match], name: str, value: str) -> QuerySet[Match]:
        return queryset.filter(offer__waste_code__code__startswith=value)

    def filter_stage(self, queryset: QuerySet[Match], name: str, value: str) -> QuerySet[Match]:
        if value == STAGE_ALL:
            return queryset
        if value in Stage.values:
            return queryset.filter(stage=value)
        return queryset.filter(stage__in=OPEN_STAGES)

    def filter_overdue(self, queryset: QuerySet[Match], name: str, value: bool) -> QuerySet[Match]:
        return queryset.filter(overdue_condition()) if value else queryset

    def filter_queryset(self, queryset: QuerySet[Match]) -> QuerySet[Match]:
        # With no stage chosen the queue shows the open stages: the work still to do.
        if not self.form.cleaned_data.get("stage"):
            queryset = queryset.filter(stage__in=OPEN_STAGES)
        return super().filter_queryset(queryset)


class MatchApiFilter(django_filters.FilterSet):
    """The partner API's match filters (the caller's matches, or a facilitator's queue)."""

    stage = django_filters.ChoiceFilter(choices=Stage.choices, help_text="One stage only.")
    region = django_filters.CharFilter(
        method="filter_region",
        max_length=40,
        help_text="Harbour region code of the offer's or the demand's site.",
    )
    min_score = django_filters.NumberFilter(
        field_name="score", lookup_expr="gte", min_value=0, max_value=1
    )

    class Meta:
        model = Match
        fields: Sequence[str] = []

    def filter_region(self, queryset: QuerySet[Match], name: str, value: str) -> QuerySet[Match]:
        return queryset.filter(
            Q(offer__site__region__code=value) | Q(demand__site__region__code=value)
        )
