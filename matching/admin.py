from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import (
    DigestSent,
    Match,
    MatchEvent,
    MatchingRun,
    MatchingRunChunk,
    Prospect,
    Workshop,
)


class MatchEventInline(admin.TabularInline):
    model = MatchEvent
    extra = 0
    readonly_fields = ["created_at", "actor", "kind", "from_stage", "to_stage", "note"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # append-only: events come from the services


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "offer",
        "demand",
        "score",
        "distance_km",
        "legal_procedure",
        "stage",
        "scoring_version",
    ]
    list_filter = ["stage", "legal_procedure", "transport_mode", "scoring_version"]
    search_fields = ["offer__ref", "offer__title", "demand__ref", "demand__title", "explanation"]
    autocomplete_fields = ["offer", "demand"]
    list_select_related = ["offer", "demand"]
    inlines = [MatchEventInline]


@admin.register(MatchEvent)
class MatchEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "match", "actor", "kind", "from_stage", "to_stage"]
    list_filter = ["kind", "to_stage"]
    search_fields = ["note", "actor__username"]
    list_select_related = ["match", "actor"]

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Prospect)
class ProspectAdmin(admin.ModelAdmin):
    list_display = ["offer", "organization", "rank", "score", "sector_score", "distance_km"]
    list_filter = ["legal_procedure"]
    search_fields = ["offer__ref", "offer__title", "organization__name"]
    autocomplete_fields = ["offer", "organization"]
    list_select_related = ["offer", "organization"]


class MatchingRunChunkInline(admin.TabularInline):
    model = MatchingRunChunk
    extra = 0
    readonly_fields = ["index", "first_offer_id", "last_offer_id", "done_at", "attempts"]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[MatchingRunChunk]:
        # A running chunk's published top pairs are megabytes the page never shows.
        return super().get_queryset(request).defer("demand_top_pairs")


@admin.register(MatchingRun)
class MatchingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "done_chunks", "total_chunks", "matches_written", "started_at"]
    list_filter = ["status", "scoring_version"]
    search_fields = ["error"]
    inlines = [MatchingRunChunkInline]


@admin.register(Workshop)
class WorkshopAdmin(admin.ModelAdmin):
    list_display = ["name", "date", "region", "facilitator"]
    list_filter = ["region", "date"]
    search_fields = ["name", "attendees__name"]
    autocomplete_fields = ["attendees"]
    list_select_related = ["region", "facilitator"]


@admin.register(DigestSent)
class DigestSentAdmin(admin.ModelAdmin):
    list_display = ["organization", "week", "match_count", "created_at"]
    list_filter = ["week"]
    search_fields = ["organization__name"]
    list_select_related = ["organization"]
