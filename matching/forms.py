from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from harbors.models import Country, HarborRegion
from listings.importing import MAX_FILE_BYTES

from .legal import Evidence, ListClass, WasteStatus
from .models import Stage


def _choices(kind: type) -> list[tuple[str, str]]:
    return [(m.value, m.value.replace("_", " ")) for m in kind]


class ShipmentQuestionForm(forms.Form):
    origin = forms.ModelChoiceField(
        Country.objects.all(), label=_("Country of dispatch"), to_field_name="code"
    )
    destination = forms.ModelChoiceField(
        Country.objects.all(), label=_("Country of destination"), to_field_name="code"
    )
    low_code = forms.CharField(
        label=_("List of Waste code"), required=False, max_length=12, help_text=_("e.g. 10 01 02")
    )
    status = forms.ChoiceField(
        choices=_choices(WasteStatus), label=_("Waste status"), initial=WasteStatus.WASTE
    )
    evidence = forms.ChoiceField(
        choices=_choices(Evidence), label=_("Evidence for the status"), initial=Evidence.NONE
    )
    operation = forms.CharField(label=_("Operation (R1–R13, D1–D15)"), max_length=3, initial="R5")
    list_class = forms.ChoiceField(
        choices=[("", "—"), *_choices(ListClass)], required=False, label=_("Shipment list")
    )
    basel_code = forms.CharField(label=_("Basel or OECD code"), required=False, max_length=12)
    mixture = forms.BooleanField(label=_("Mixture of wastes"), required=False)
    contaminated = forms.BooleanField(label=_("Contaminated"), required=False)
    pops = forms.BooleanField(label=_("Contains POPs"), required=False)
    date = forms.DateField(
        label=_("Shipment date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class MatchStageForm(forms.Form):
    """A facilitator's move of a match. The service decides what is allowed: a reason to
    reject, the outcome to implement."""

    to_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
    tonnes_per_year = forms.FloatField(
        label=_("Tonnes per year"), required=False, min_value=0, max_value=1e9
    )
    eur_saved_per_year = forms.FloatField(
        label=_("Euros saved per year"), required=False, min_value=-1e12, max_value=1e12
    )


class WorkshopUploadForm(forms.Form):
    name = forms.CharField(label=_("Workshop"), max_length=200)
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    region = forms.TypedChoiceField(label=_("Harbour region"), coerce=int)
    cards = forms.FileField(
        label=_("Haves and wants cards (CSV or XLSX)"),
        help_text=_("The import format: one row per offer, demand or organisation."),
    )

    def __init__(self, *args: Any, regions: Sequence[HarborRegion] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.regions = {r.pk: r for r in regions}
        self.fields["region"].choices = [(r.pk, r.name) for r in regions]

    def clean_cards(self) -> Any:
        cards = self.cleaned_data["cards"]
        if cards.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB."), params={"mb": MAX_FILE_BYTES // 2**20}
            )
        return cards

    def clean_region(self) -> HarborRegion:
        return self.regions[self.cleaned_data["region"]]
