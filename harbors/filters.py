"""FilterSets of harbour geography, used by the partner API."""

from __future__ import annotations

import django_filters

from .models import Country, HarborRegion, Port


class PortFilter(django_filters.FilterSet):
    region = django_filters.ModelChoiceFilter(
        queryset=HarborRegion.objects.all(),
        to_field_name="code",
        help_text="Harbour region code, e.g. antwerp-bruges.",
    )
    country = django_filters.ModelChoiceFilter(
        queryset=Country.objects.all(), help_text="ISO 3166 alpha-2 code, upper case: BE."
    )
    kind = django_filters.ChoiceFilter(choices=Port.Kind.choices)

    class Meta:
        model = Port
        fields: list[str] = []
