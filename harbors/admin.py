from django.contrib import admin

from .models import Country, HarborRegion, Port, TransportFactor


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "eu", "eea", "efta", "oecd", "basel_party"]
    list_filter = ["eu", "eea", "efta", "oecd", "basel_party"]
    search_fields = ["code", "name"]


class PortInline(admin.TabularInline):
    model = Port
    extra = 0
    fields = ["unlocode", "name", "country", "kind", "lat", "lon", "waterways"]


@admin.register(HarborRegion)
class HarborRegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "lat", "lon"]
    search_fields = ["code", "name"]
    list_filter = ["countries"]
    filter_horizontal = ["countries", "facilitators"]
    inlines = [PortInline]


@admin.register(Port)
class PortAdmin(admin.ModelAdmin):
    list_display = ["unlocode", "name", "country", "kind", "region", "waterways"]
    list_filter = ["kind", "country", "region"]
    search_fields = ["unlocode", "name"]
    list_select_related = ["country", "region"]


@admin.register(TransportFactor)
class TransportFactorAdmin(admin.ModelAdmin):
    list_display = [
        "mode",
        "g_co2e_per_tkm",
        "eur_per_tkm",
        "eur_per_tonne_handling",
        "detour_factor",
        "year",
    ]
    search_fields = ["mode", "source"]
