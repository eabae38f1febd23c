from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from symbiosis.db import TimeStampedModel

LAT_IN_RANGE = Q(lat__gte=-90) & Q(lat__lte=90)
LON_IN_RANGE = Q(lon__gte=-180) & Q(lon__lte=180)


class Country(models.Model):
    """A country with the memberships that decide a shipment procedure (harbors/countries.py)."""

    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=80)
    eu = models.BooleanField("EU member", default=False)
    eea = models.BooleanField("EEA member", default=False)
    efta = models.BooleanField("EFTA member", default=False)
    oecd = models.BooleanField("OECD member", default=False)
    basel_party = models.BooleanField("Basel Convention party", default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z]{2}$"), name="harbors_country_code_alpha2"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class HarborRegion(models.Model):
    """A harbour region: the unit a facilitator works and the impact figures add up to."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    countries = models.ManyToManyField(Country, related_name="harbor_regions")
    lat = models.FloatField()
    lon = models.FloatField()
    facilitators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="facilitated_regions", blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=LAT_IN_RANGE, name="harbors_harborregion_lat_range"),
            models.CheckConstraint(condition=LON_IN_RANGE, name="harbors_harborregion_lon_range"),
        ]

    def __str__(self) -> str:
        return self.name


class Port(models.Model):
    class Kind(models.TextChoices):
        SEAPORT = "seaport", _("Seaport")
        INLAND = "inland", _("Inland port")

    unlocode = models.CharField("UN/LOCODE", max_length=5, unique=True)
    name = models.CharField(max_length=120)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="ports")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    lat = models.FloatField()
    lon = models.FloatField()
    region = models.ForeignKey(HarborRegion, on_delete=models.PROTECT, related_name="ports")
    waterways = models.CharField(
        max_length=200, blank=True, help_text="Space-separated inland waterways the port lies on."
    )

    class Meta:
        ordering = ["unlocode"]
        constraints = [
            models.CheckConstraint(condition=LAT_IN_RANGE, name="harbors_port_lat_range"),
            models.CheckConstraint(condition=LON_IN_RANGE, name="harbors_port_lon_range"),
            models.CheckConstraint(
                condition=Q(kind__in=["seaport", "inland"]), name="harbors_port_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(unlocode__regex=r"^[A-Z]{2}[A-Z2-9]{3}$"),
                name="harbors_port_unlocode_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.unlocode})"


class TransportFactor(TimeStampedModel):
    """Cost and emission factors per transport mode. An operator may change them in the admin.

    Loaded from harbors/data/transport_factors.csv, which cites the source of each value.
    """

    class Mode(models.TextChoices):
        ROAD = "road", _("Road")
        SEA = "sea", _("Short-sea shipping")
        INLAND_WATERWAY = "inland_waterway", _("Inland waterway")
        RAIL = "rail", _("Rail")

    mode = models.CharField(max_length=20, choices=Mode.choices, unique=True)
    g_co2e_per_tkm = models.FloatField("g CO2e per tonne-km (well to wheel)")
    eur_per_tkm = models.FloatField("euros per tonne-km")
    eur_per_tonne_handling = models.FloatField("euros per tonne per transshipment", default=0)
    detour_factor = models.FloatField(default=1.0)
    source = models.CharField(max_length=400)
    year = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["mode"]
        constraints = [
            models.CheckConstraint(
                condition=Q(g_co2e_per_tkm__gte=0) & Q(eur_per_tkm__gte=0),
                name="harbors_transportfactor_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(detour_factor__gte=1), name="harbors_transportfactor_detour_ge_1"
            ),
        ]

    def __str__(self) -> str:
        return self.get_mode_display()
