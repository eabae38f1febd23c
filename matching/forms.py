from django import forms
from django.utils.translation import gettext_lazy as _

from harbors.models import Country

from .legal import Evidence, ListClass, WasteStatus


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
