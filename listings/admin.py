from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from . import services
from .models import (
    Demand,
    MaterialCategory,
    Membership,
    NaceCode,
    Offer,
    Operation,
    Organization,
    Site,
    WasteChapter,
    WasteCode,
    WasteSubChapter,
)


@admin.register(WasteChapter)
class WasteChapterAdmin(admin.ModelAdmin):
    list_display = ["code", "title"]
    search_fields = ["code", "title"]


@admin.register(WasteSubChapter)
class WasteSubChapterAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "chapter"]
    list_filter = ["chapter"]
    search_fields = ["code", "title"]


@admin.register(WasteCode)
class WasteCodeAdmin(admin.ModelAdmin):
    """Also the List of Waste picker: offers and demands use it as an autocomplete."""

    list_display = ["display_code", "title", "hazardous", "mirror", "subchapter"]
    list_filter = ["hazardous", "mirror", "subchapter__chapter"]
    search_fields = ["code", "title"]
    list_select_related = ["subchapter"]

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        # "10 01 02*" and "10-01-02" find 100102, as a facilitator types them.
        compact = search_term.replace(" ", "").replace("*", "").replace("-", "")
        if compact.isdigit():
            return queryset.filter(code__startswith=compact), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "description"]
    list_filter = ["kind"]
    search_fields = ["code", "description"]


@admin.register(NaceCode)
class NaceCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "version", "level", "title", "parent"]
    list_filter = ["version", "level"]
    search_fields = ["code", "title"]
    autocomplete_fields = ["parent"]


@admin.register(MaterialCategory)
class MaterialCategoryAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "parent", "resource_type", "low_prefixes"]
    list_filter = ["resource_type", "parent"]
    search_fields = ["slug", "name", "low_prefixes"]
    autocomplete_fields = ["parent"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0
    fields = ["name", "city", "country", "lat", "lon", "region", "nearest_port"]
    readonly_fields = ["region", "nearest_port"]


class ListingsFollowSiteMixin:
    """An admin edit of a site (or of a listing's site) goes around listings.services; the
    listings' copy of their site's country, region and rounded location is brought in step
    after the save, as the site services do."""

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        site = obj if isinstance(obj, Site) else getattr(obj, "site", None)
        if isinstance(site, Site):  # a site or a listing (an organisation has none)
            services.site_listings_follow(site=site)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: Any, change: bool
    ) -> None:
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        for obj in formset.new_objects + [o for o, _ in formset.changed_objects]:
            if isinstance(obj, Site):
                services.site_listings_follow(site=obj)


@admin.register(Organization)
class OrganizationAdmin(ListingsFollowSiteMixin, admin.ModelAdmin):
    list_display = ["name", "country", "nace", "verified_at", "closed_at"]
    list_filter = ["country", "nace__parent__parent", "verified_at", "closed_at"]
    search_fields = ["name", "ref", "nace__code", "nace__title"]
    autocomplete_fields = ["nace", "country"]
    list_select_related = ["country", "nace"]
    inlines = [MembershipInline, SiteInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Site)
class SiteAdmin(ListingsFollowSiteMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "city", "country", "region", "nearest_port"]
    list_filter = ["country", "region"]
    search_fields = ["name", "city", "organization__name"]
    autocomplete_fields = ["organization", "country"]
    list_select_related = ["organization", "country", "region", "nearest_port"]


class ListingAdmin(ListingsFollowSiteMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "title",
        "organization",
        "resource_type",
        "waste_code",
        "quantity",
        "unit",
        "frequency",
        "status",
        "needs_matching",
    ]
    list_filter = ["status", "resource_type", "needs_matching", "unit", "site__country"]
    search_fields = ["ref", "title", "description", "waste_code__code", "organization__name"]
    autocomplete_fields = ["organization", "site", "waste_code", "category"]
    list_select_related = ["organization", "waste_code"]
    readonly_fields = ["annual_quantity", "version", "published_at", "matched_version"]


@admin.register(Offer)
class OfferAdmin(ListingAdmin):
    list_filter = [*ListingAdmin.list_filter, "waste_status", "hazardous"]


@admin.register(Demand)
class DemandAdmin(ListingAdmin):
    autocomplete_fields = [
        *ListingAdmin.autocomplete_fields,
        "operation",
        "accepted_codes",
        "accepted_categories",
    ]
