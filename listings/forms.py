"""Forms of the company portal: sign-up, sites, offers and demands, uploads, answers to matches
and closing the account. Each field says in words what is wrong with it; the views pass the
cleaned data to listings.services and matching.workflow."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from harbors.geocoding import geocode_city
from harbors.models import Country

from .importing import MAX_FILE_BYTES
from .models import (
    Demand,
    Frequency,
    MaterialCategory,
    Offer,
    Operation,
    Organization,
    ResourceType,
    Unit,
    WasteCode,
)
from .selectors import (
    nace_code_get,
    site_list_for_organization,
    waste_code_get,
    waste_code_search,
)

ENERGY_UNITS = frozenset({Unit.MWH, Unit.GJ})
MAX_QUANTITY = Decimal("1e11")

REQUIRED = {"required": _("This field is required.")}


def _lookup_input(url: Any, placeholder: Any) -> forms.TextInput:
    """A text input that static/js/lookup.js turns into a search-as-you-type picker; it works
    as a plain text input without JavaScript."""
    return forms.TextInput(
        attrs={
            "data-lookup-url": url,
            "data-lookup-found": _("suggestions"),
            "autocomplete": "off",
            "placeholder": placeholder,
        }
    )


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _coordinate(label: Any, low: int, high: int) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        required=False,
        min_value=low,
        max_value=high,
        error_messages={
            "invalid": _("Enter a number in decimal degrees, such as 51.95."),
            "min_value": _("Enter a value of at least %(limit_value)s."),
            "max_value": _("Enter a value of at most %(limit_value)s."),
        },
        widget=forms.NumberInput(attrs={"step": "any"}),
    )


class LocationMixin(forms.Form):
    """City, address and optional coordinates. Without coordinates, the city is geocoded
    offline (harbors.geocoding) in the chosen country."""

    city = forms.CharField(label=_("City or town"), max_length=120, required=False)
    address = forms.CharField(label=_("Street address"), max_length=300, required=False)
    lat = _coordinate(_("Latitude"), -90, 90)
    lon = _coordinate(_("Longitude"), -180, 180)

    def _clean_location(self, country: Country | None) -> None:
        data = self.cleaned_data
        lat, lon = data.get("lat"), data.get("lon")
        if "lat" in self.errors or "lon" in self.errors:
            return
        if lat is not None and lon is not None:
            return
        if (lat is None) != (lon is None):
            missing = "lon" if lon is None else "lat"
            self.add_error(missing, _("Give both the latitude and the longitude, or neither."))
            return
        city = data.get("city", "")
        if not city:
            self.add_error(
                "city", _("Give the city or town of the site, or its latitude and longitude.")
            )
            return
        if country is None:
            return
        place = geocode_city(city, country.code)
        if place is None:
            self.add_error(
                "city",
                _(
                    "We could not find “%(city)s” in %(country)s. Check the spelling (the local "
                    "name works best), or give the latitude and longitude of the site."
                )
                % {"city": city, "country": country.name},
            )
            return
        data["lat"], data["lon"] = place.lat, place.lon


class SignupForm(LocationMixin):
    """A new organisation with its first site and its first user (its administrator)."""

    organization_name = forms.CharField(
        label=_("Organisation name"), max_length=200, error_messages=REQUIRED
    )
    country = forms.ModelChoiceField(
        Country.objects.order_by("name"),
        label=_("Country"),
        to_field_name="code",
        empty_label=_("Choose a country"),
        error_messages={"invalid_choice": _("Choose a country from the list.")},
    )
    nace = forms.CharField(
        label=_("Main activity (NACE code)"),
        max_length=120,
        help_text=_("Type a code such as 23.51 or words such as “cement” to search."),
        widget=_lookup_input(reverse_lazy("listings:nace-lookup"), _("e.g. 23.51")),
    )
    website = forms.URLField(
        label=_("Website"),
        required=False,
        assume_scheme="https",
        error_messages={"invalid": _("Enter a web address, such as https://example.com.")},
    )
    site_name = forms.CharField(
        label=_("Site name"),
        max_length=200,
        initial=_("Main site"),
        help_text=_("A plant or depot; you can add more sites later."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(
        label=_("Work email"),
        error_messages={"invalid": _("Enter an email address, such as name@company.eu.")},
    )
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Letters, digits and @ . + - _ only."),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    field_order = [
        "organization_name",
        "country",
        "nace",
        "website",
        "site_name",
        "city",
        "address",
        "lat",
        "lon",
        "first_name",
        "last_name",
        "email",
        "phone",
        "username",
        "password1",
        "password2",
    ]

    def fieldsets(self) -> list[tuple[Any, list[forms.BoundField]]]:
        groups = (
            (_("Your organisation"), ("organization_name", "country", "nace", "website")),
            (_("Its first site"), ("site_name", "city", "address", "lat", "lon")),
            (
                _("You: the organisation's administrator"),
                ("first_name", "last_name", "email", "phone", "username", "password1", "password2"),
            ),
        )
        return [(legend, [self[name] for name in names]) for legend, names in groups]

    def clean_nace(self) -> Any:
        text = self.cleaned_data["nace"].strip()
        code = text.split()[0] if text else ""
        nace = nace_code_get(code) if code else None
        if nace is None:
            raise forms.ValidationError(
                _(
                    "“%(value)s” is not a NACE code. Type the code of your main activity, "
                    "such as 23.51, or search by words."
                ),
                params={"value": text},
            )
        return nace

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken; choose another."))
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        country = data.get("country")
        name = data.get("organization_name", "").strip()
        if (
            country
            and name
            and Organization.objects.filter(name__iexact=name, country=country).exists()
        ):
            self.add_error(
                "organization_name",
                _(
                    "An organisation of this name is registered in %(country)s already. If it "
                    "is yours, ask its administrator to add you."
                )
                % {"country": country.name},
            )
        self._clean_location(country)
        password1, password2 = data.get("password1"), data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            candidate = User(
                username=data.get("username", ""),
                email=data.get("email", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class SiteForm(LocationMixin):
    name = forms.CharField(label=_("Site name"), max_length=200)
    country = forms.ModelChoiceField(
        Country.objects.order_by("name"),
        label=_("Country"),
        to_field_name="code",
        error_messages={"invalid_choice": _("Choose a country from the list.")},
    )
    field_order = ["name", "city", "address", "country", "lat", "lon"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._clean_location(data.get("country"))
        return data


_LEADING_CODE = re.compile(r"\s*([0-9]{2}[\s.\-]?[0-9]{2}[\s.\-]?[0-9]{2}\*?)(?:\s.*)?", re.S)


def _parse_code(text: str) -> WasteCode:
    """A List of Waste entry from what a person typed: "100102", "10 01 02*", or a picker
    label such as "10 01 02 fly ash from peat". Words alone get suggestions in the error."""
    leading = _LEADING_CODE.fullmatch(text)
    candidate = leading.group(1) if leading else text
    try:
        code = waste_code_get(candidate)
    except ValueError:
        suggestions = waste_code_search(text, limit=3)
        if suggestions:
            raise forms.ValidationError(
                _(
                    "“%(value)s” is not a List of Waste code: write six digits. Did you mean "
                    "%(suggestions)s?"
                ),
                params={
                    "value": text,
                    "suggestions": _(" or ").join(
                        f"{c.display_code} ({c.title[:60]})" for c in suggestions
                    ),
                },
            ) from None
        raise forms.ValidationError(
            _("“%(value)s” is not a List of Waste code: write six digits, such as 10 01 02."),
            params={"value": text},
        ) from None
    if code is None:
        raise forms.ValidationError(
            _(
                "%(value)s is not in the European List of Waste. Search by words, such as "
                "“fly ash”, to find the right entry."
            ),
            params={"value": candidate},
        )
    return code


class ListingForm(forms.Form):
    """What offers and demands share."""

    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        help_text=_(
            "What it is, in a few words. Other companies see it before an introduction: "
            "do not name your company."
        ),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Composition, moisture, grain size, contaminants, how it is stored."),
    )
    resource_type = forms.ChoiceField(
        label=_("Resource"), choices=ResourceType.choices, initial=ResourceType.MATERIAL
    )
    waste_code = forms.CharField(
        label=_("List of Waste code"),
        required=False,
        max_length=200,
        help_text=_("Six digits such as 10 01 02, or words such as “fly ash” to search."),
        widget=_lookup_input(reverse_lazy("listings:waste-code-lookup"), _("e.g. 10 01 02")),
    )
    category = forms.ModelChoiceField(
        MaterialCategory.objects.order_by("name"),
        label=_("Material category"),
        required=False,
        empty_label=_("None"),
        help_text=_("Give a category when no List of Waste code fits, e.g. for heat or water."),
    )
    site = forms.ModelChoiceField(
        queryset=None,
        label=_("Site"),
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of your organisation's sites.")},
    )
    quantity = forms.DecimalField(
        label=_("Quantity"),
        max_digits=14,
        decimal_places=3,
        error_messages={
            "invalid": _("Enter a number, such as 1200 or 12.5."),
            "max_digits": _("The quantity is too large."),
            "max_whole_digits": _("The quantity is too large."),
            "max_decimal_places": _("Give at most three decimals."),
        },
    )
    unit = forms.ChoiceField(
        label=_("Unit"),
        choices=Unit.choices,
        error_messages={"invalid_choice": _("Choose one of the units t, kg, m³, l, MWh, GJ.")},
    )
    frequency = forms.ChoiceField(
        label=_("Frequency"),
        choices=Frequency.choices,
        initial=Frequency.YEAR,
        error_messages={"invalid_choice": _("Choose how often the quantity arises.")},
    )
    available_from = forms.DateField(
        label=_("Available from"),
        required=False,
        widget=_date_input(),
        error_messages={"invalid": _("Enter a date such as 2026-05-21.")},
    )
    available_until = forms.DateField(
        label=_("Available until"),
        required=False,
        widget=_date_input(),
        error_messages={"invalid": _("Enter a date such as 2026-12-31.")},
    )

    model: type[Offer] | type[Demand]
    extra_fields: tuple[str, ...] = ()
    extra_legend: Any = ""

    def fieldsets(self) -> list[tuple[Any, list[forms.BoundField]]]:
        """The fields in groups, each shown as a <fieldset> with its legend."""
        what = ("title", "description", "resource_type", "waste_code", "category")
        amount = ("site", "quantity", "unit", "frequency", "available_from", "available_until")
        listed = set(what) | set(amount)
        rest = [name for name in self.fields if name not in listed]
        groups = [
            (_("What"), [self[n] for n in self.fields if n in what]),
            (_("Where, how much and when"), [self[n] for n in self.fields if n in amount]),
            (self.extra_legend, [self[n] for n in rest]),
        ]
        return [(legend, fields) for legend, fields in groups if fields]

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = site_list_for_organization(organization=organization)

    def clean_waste_code(self) -> WasteCode | None:
        text = self.cleaned_data["waste_code"].strip()
        return _parse_code(text) if text else None

    def clean_quantity(self) -> Decimal:
        quantity = self.cleaned_data["quantity"]
        if not quantity.is_finite() or quantity <= 0:
            raise forms.ValidationError(_("The quantity must be more than zero."))
        if quantity >= MAX_QUANTITY:
            raise forms.ValidationError(_("The quantity is too large."))
        return quantity

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        resource_type = data.get("resource_type")
        category = data.get("category")
        if (
            not data.get("waste_code")
            and not category
            and "waste_code" not in self.errors
            and "category" not in self.errors
        ):
            self.add_error(
                "waste_code",
                _(
                    "Give a List of Waste code or a material category, so that the material "
                    "can be matched."
                ),
            )
        if category and resource_type and category.resource_type != resource_type:
            self.add_error(
                "category",
                _("“%(category)s” is a category for %(kind)s, not for %(resource)s.")
                % {
                    "category": category.name,
                    "kind": ResourceType(category.resource_type).label.lower(),
                    "resource": ResourceType(resource_type).label.lower(),
                },
            )
        unit = data.get("unit")
        if unit and resource_type:
            if resource_type == ResourceType.ENERGY and unit not in ENERGY_UNITS:
                self.add_error("unit", _("Energy is measured in MWh or GJ."))
            elif resource_type != ResourceType.ENERGY and unit in ENERGY_UNITS:
                self.add_error("unit", _("MWh and GJ measure energy; choose t, kg, m³ or l."))
        start, end = data.get("available_from"), data.get("available_until")
        if start and end and end < start:
            self.add_error("available_until", _("The end of availability comes before its start."))
        return data

    @classmethod
    def initial_for(cls, listing: Offer | Demand) -> dict[str, Any]:
        initial = {
            name: getattr(listing, name)
            for name in (
                "title",
                "description",
                "resource_type",
                "category",
                "site",
                "quantity",
                "unit",
                "frequency",
                "available_from",
                "available_until",
                *cls.extra_fields,
            )
        }
        initial["waste_code"] = listing.waste_code.display_code if listing.waste_code else ""
        return initial

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of listing_create / listing_update."""
        data = self.cleaned_data
        names = (
            "title",
            "description",
            "resource_type",
            "category",
            "waste_code",
            "site",
            "quantity",
            "unit",
            "frequency",
            "available_from",
            "available_until",
            *self.extra_fields,
        )
        return {name: data[name] for name in names}


class OfferForm(ListingForm):
    model = Offer
    extra_legend = _("Legal status, handling and price")
    extra_fields = (
        "waste_status",
        "status_evidence",
        "list_class",
        "physical_form",
        "hazardous",
        "mixture",
        "contaminated",
        "pops",
        "price_eur_per_unit",
        "can_deliver",
    )

    waste_status = forms.ChoiceField(
        label=_("Legal status"),
        choices=Offer.WasteStatus.choices,
        initial=Offer.WasteStatus.UNKNOWN,
        help_text=_(
            "Only waste needs a shipment procedure across a border. When unsure, choose "
            "“Unknown”: it is treated as waste."
        ),
    )
    status_evidence = forms.ChoiceField(
        label=_("Evidence for the status"),
        choices=Offer.Evidence.choices,
        initial=Offer.Evidence.NONE,
    )
    list_class = forms.ChoiceField(
        label=_("Shipment list"),
        choices=[("", _("Not known")), *Offer.ListClass.choices],
        required=False,
    )
    physical_form = forms.ChoiceField(
        label=_("Physical form"),
        choices=[("", _("Not given")), *Offer.PhysicalForm.choices],
        required=False,
    )
    hazardous = forms.BooleanField(
        label=_("Hazardous"),
        required=False,
        help_text=_("Set for you when the List of Waste entry is marked *."),
    )
    mixture = forms.BooleanField(label=_("A mixture of wastes"), required=False)
    contaminated = forms.BooleanField(label=_("Contaminated"), required=False)
    pops = forms.BooleanField(label=_("Contains persistent organic pollutants"), required=False)
    price_eur_per_unit = forms.DecimalField(
        label=_("Price in euros per unit"),
        required=False,
        max_digits=12,
        decimal_places=2,
        help_text=_("Negative for a gate fee that you would pay."),
        error_messages={
            "invalid": _("Enter an amount, such as 12.50 or -30."),
            "max_digits": _("The amount is too large."),
            "max_whole_digits": _("The amount is too large."),
            "max_decimal_places": _("Give at most two decimals (cents)."),
        },
    )
    can_deliver = forms.BooleanField(label=_("We can deliver"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        code = data.get("waste_code")
        if code is not None and code.hazardous:
            data["hazardous"] = True
        return data


def _split_codes(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]


class DemandForm(ListingForm):
    model = Demand
    extra_legend = _("What you accept")
    extra_fields = (
        "quantity_min",
        "max_distance_km",
        "operation",
        "has_permit",
        "accepts_hazardous",
    )

    quantity_min = forms.DecimalField(
        label=_("Least quantity worth taking"),
        required=False,
        max_digits=14,
        decimal_places=3,
        help_text=_("In the same unit and frequency as the quantity."),
        error_messages={
            "invalid": _("Enter a number, such as 100."),
            "max_digits": _("The quantity is too large."),
            "max_whole_digits": _("The quantity is too large."),
            "max_decimal_places": _("Give at most three decimals."),
        },
    )
    accepted_codes = forms.CharField(
        label=_("Other List of Waste codes you accept"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Separated by commas, such as 10 01 01, 10 01 15."),
    )
    accepted_categories = forms.ModelMultipleChoiceField(
        MaterialCategory.objects.order_by("name"),
        label=_("Other material categories you accept"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        error_messages={"invalid_choice": _("Choose categories from the list.")},
    )
    max_distance_km = forms.IntegerField(
        label=_("Furthest distance in km"),
        required=False,
        min_value=1,
        max_value=20000,
        help_text=_("Empty: the usual distance for the resource (a few km for heat)."),
        error_messages={
            "invalid": _("Enter a whole number of kilometres."),
            "min_value": _("Enter at least 1 km."),
            "max_value": _("Enter at most 20000 km."),
        },
    )
    operation = forms.ModelChoiceField(
        Operation.objects.order_by("kind", "code"),
        label=_("Recovery or disposal operation"),
        required=False,
        empty_label=_("Not given"),
    )
    has_permit = forms.BooleanField(label=_("We hold a permit to receive waste"), required=False)
    accepts_hazardous = forms.BooleanField(label=_("We accept hazardous material"), required=False)

    field_order = [
        "title",
        "description",
        "resource_type",
        "waste_code",
        "accepted_codes",
        "category",
        "accepted_categories",
        "site",
        "quantity",
        "quantity_min",
        "unit",
        "frequency",
        "available_from",
        "available_until",
    ]

    def clean_accepted_codes(self) -> list[WasteCode]:
        codes, problems = [], []
        for text in _split_codes(self.cleaned_data["accepted_codes"]):
            try:
                codes.append(_parse_code(text))
            except forms.ValidationError as exc:
                problems.append(exc)
        if problems:
            raise forms.ValidationError(problems)
        return codes

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        minimum, quantity = data.get("quantity_min"), data.get("quantity")
        if minimum is not None:
            if minimum <= 0:
                self.add_error("quantity_min", _("The least quantity must be more than zero."))
            elif quantity is not None and minimum > quantity:
                self.add_error(
                    "quantity_min", _("The least quantity cannot be more than the quantity.")
                )
        return data

    @classmethod
    def initial_for(cls, listing: Offer | Demand) -> dict[str, Any]:
        initial = super().initial_for(listing)
        if isinstance(listing, Demand):
            own = listing.waste_code_id
            initial["accepted_codes"] = ", ".join(
                c.display_code for c in listing.accepted_codes.all() if c.code != own
            )
            initial["accepted_categories"] = [
                c.pk for c in listing.accepted_categories.all() if c.pk != listing.category_id
            ]
        return initial

    def service_fields(self) -> dict[str, Any]:
        fields = super().service_fields()
        data = self.cleaned_data
        codes = {c.code: c for c in data["accepted_codes"]}
        if data["waste_code"] is not None:
            codes[data["waste_code"].code] = data["waste_code"]
        categories = {c.pk: c for c in data["accepted_categories"]}
        if data["category"] is not None:
            categories[data["category"].pk] = data["category"]
        fields["accepted_codes"] = list(codes.values())
        fields["accepted_categories"] = list(categories.values())
        return fields


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        error_messages={
            "required": _("Choose a file to upload."),
            "empty": _("The file is empty."),
        },
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in (".csv", ".xlsx", ".txt"):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file is %(size).1f MB; the limit is %(limit)d MB."),
                params={
                    "size": upload.size / (1024 * 1024),
                    "limit": MAX_FILE_BYTES // (1024 * 1024),
                },
            )
        return upload


class MatchResponseForm(forms.Form):
    INTERESTED, NOT_INTERESTED = "interested", "not_interested"

    response = forms.ChoiceField(
        label=_("Your answer"),
        choices=[(INTERESTED, _("Interested")), (NOT_INTERESTED, _("Not interested"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose “interested” or “not interested”.")},
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when you are not interested; it helps the facilitator."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("response") == self.NOT_INTERESTED and not data.get("reason", "").strip():
            self.add_error("reason", _("Say why you are not interested."))
        return data


class CloseAccountForm(forms.Form):
    confirm_name = forms.CharField(label=_("Type the organisation's name to confirm"))

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_confirm_name(self) -> str:
        name = self.cleaned_data["confirm_name"].strip()
        if name.casefold() != self.organization.name.strip().casefold():
            raise forms.ValidationError(
                _("This is not the organisation's name; nothing was closed.")
            )
        return name
