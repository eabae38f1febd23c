"""Organisations, their sites, offers and demands, and the reference codes they use."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from harbors.models import LAT_IN_RANGE, LON_IN_RANGE, Country, HarborRegion, Port
from symbiosis.db import TimeStampedModel


class WasteChapter(models.Model):
    """A chapter (two digits) of the European List of Waste."""

    code = models.CharField(max_length=2, primary_key=True)
    title = models.TextField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class WasteSubChapter(models.Model):
    """A sub-chapter (four digits) of the European List of Waste."""

    code = models.CharField(max_length=4, primary_key=True)
    chapter = models.ForeignKey(WasteChapter, on_delete=models.PROTECT, related_name="subchapters")
    title = models.TextField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code[:2]} {self.code[2:]} {self.title}"


class WasteCode(models.Model):
    """An entry (six digits) of the List of Waste, Commission Decision 2000/532/EC as amended."""

    code = models.CharField(max_length=6, primary_key=True)
    subchapter = models.ForeignKey(WasteSubChapter, on_delete=models.PROTECT, related_name="codes")
    title = models.TextField()
    hazardous = models.BooleanField(default=False)
    mirror = models.BooleanField(
        default=False, help_text="Part of a hazardous / non-hazardous mirror pair."
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[0-9]{6}$"), name="listings_wastecode_six_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_code} {self.title}"

    @property
    def display_code(self) -> str:
        star = "*" if self.hazardous else ""
        return f"{self.code[:2]} {self.code[2:4]} {self.code[4:]}{star}"


class Operation(models.Model):
    """A recovery (R1-R13) or disposal (D1-D15) operation, Directive 2008/98/EC Annexes I-II."""

    class Kind(models.TextChoices):
        RECOVERY = "recovery", _("Recovery")
        DISPOSAL = "disposal", _("Disposal")

    code = models.CharField(max_length=3, primary_key=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    description = models.TextField()

    class Meta:
        ordering = ["kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^(R([1-9]|1[0-3])|D([1-9]|1[0-5]))$"),
                name="listings_operation_code_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class NaceCode(models.Model):
    """A NACE activity (Rev. 2, or Rev. 2.1 where it differs): section to class."""

    class Version(models.TextChoices):
        REV2 = "2", "NACE Rev. 2"
        REV21 = "2.1", "NACE Rev. 2.1"

    class Level(models.TextChoices):
        SECTION = "section", _("Section")
        DIVISION = "division", _("Division")
        GROUP = "group", _("Group")
        CLASS = "class", _("Class")

    version = models.CharField(max_length=3, choices=Version.choices, default=Version.REV2)
    code = models.CharField(max_length=5)
    level = models.CharField(max_length=8, choices=Level.choices)
    title = models.CharField(max_length=300)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    class Meta:
        ordering = ["version", "code"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="listings_nacecode_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class MaterialCategory(models.Model):
    """A node of the small material taxonomy, e.g. minerals > ashes > fly ash."""

    class ResourceType(models.TextChoices):
        MATERIAL = "material", _("Material")
        ENERGY = "energy", _("Energy")
        WATER = "water", _("Water")

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    resource_type = models.CharField(
        max_length=10, choices=ResourceType.choices, default=ResourceType.MATERIAL
    )
    low_prefixes = models.CharField(
        max_length=400, blank=True, help_text="Space-separated List of Waste codes or prefixes."
    )

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "material categories"

    def __str__(self) -> str:
        return self.name


class Organization(TimeStampedModel):
    name = models.CharField(max_length=200)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="organizations")
    nace = models.ForeignKey(
        NaceCode, on_delete=models.PROTECT, null=True, blank=True, related_name="organizations"
    )
    ref = models.CharField(max_length=80, blank=True, help_text="The importer's stable key.")
    website = models.URLField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["ref"], condition=~Q(ref=""), name="listings_organization_ref_unique"
            ),
            models.UniqueConstraint(
                models.functions.Lower("name"),
                "country",
                name="listings_organization_name_country_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class Membership(TimeStampedModel):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        MEMBER = "member", _("Member")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="listings_membership_user_org_unique"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["admin", "member"]), name="listings_membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class Site(TimeStampedModel):
    """A plant or depot. Its harbour region and nearest port are derived from lat/lon."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=120, blank=True)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="sites")
    lat = models.FloatField()
    lon = models.FloatField()
    region = models.ForeignKey(
        HarborRegion, on_delete=models.SET_NULL, null=True, blank=True, related_name="sites"
    )
    nearest_port = models.ForeignKey(
        Port, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.CheckConstraint(condition=LAT_IN_RANGE, name="listings_site_lat_range"),
            models.CheckConstraint(condition=LON_IN_RANGE, name="listings_site_lon_range"),
        ]
        indexes = [
            # Sites moved since matching's cached index last looked (matching/candidates.py).
            models.Index(fields=["updated_at"], name="listings_site_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city or self.country_id})"


class ResourceType(models.TextChoices):
    MATERIAL = "material", _("Material")
    ENERGY = "energy", _("Energy")
    WATER = "water", _("Water")


class Unit(models.TextChoices):
    TONNE = "t", "t"
    KILOGRAM = "kg", "kg"
    CUBIC_METRE = "m3", "m³"
    LITRE = "l", "l"
    MWH = "MWh", "MWh"
    GJ = "GJ", "GJ"


class Frequency(models.TextChoices):
    ONCE = "once", _("once")
    DAY = "day", _("per day")
    WEEK = "week", _("per week")
    MONTH = "month", _("per month")
    YEAR = "year", _("per year")
    CONTINUOUS = "continuous", _("continuous (per hour)")


class ListingStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    PAUSED = "paused", _("Paused")
    CLOSED = "closed", _("Closed")


class ListingQuerySet(models.QuerySet):
    def published(self) -> ListingQuerySet:
        return self.filter(status=ListingStatus.PUBLISHED)


class Listing(TimeStampedModel):
    """What offers and demands share. Quantities are stored as entered and per year."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="%(class)ss"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="%(class)ss")
    ref = models.CharField(max_length=80, blank=True, help_text="The importer's stable key.")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    resource_type = models.CharField(
        max_length=10, choices=ResourceType.choices, default=ResourceType.MATERIAL
    )
    category = models.ForeignKey(
        MaterialCategory, on_delete=models.PROTECT, null=True, blank=True, related_name="%(class)ss"
    )
    waste_code = models.ForeignKey(
        WasteCode, on_delete=models.PROTECT, null=True, blank=True, related_name="%(class)ss"
    )
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    unit = models.CharField(max_length=3, choices=Unit.choices)
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    annual_quantity = models.DecimalField(
        max_digits=18,
        decimal_places=3,
        help_text="Quantity per year in the base unit (t, m³ or MWh); see listings/units.py.",
    )
    available_from = models.DateField(null=True, blank=True)
    available_until = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ListingStatus.choices, default=ListingStatus.DRAFT
    )
    published_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    needs_matching = models.BooleanField(default=False)
    matching_requested_at = models.DateTimeField(null=True, blank=True)
    matched_version = models.PositiveIntegerField(null=True, blank=True)
    matching_error = models.TextField(
        blank=True, help_text="Why the engine skipped this listing, if it did."
    )
    # The thesaurus concepts the title and description name, as the matching engine finds them
    # (matching.selectors.listing_concepts), written by listings.services. The engine reads
    # them while their key still matches the words and the thesaurus, and finds them in the
    # words again otherwise (a row written around the services, a new thesaurus).
    concepts = models.TextField(
        blank=True, editable=False, help_text="Concept ids named in the words, space-separated."
    )
    concepts_key = models.CharField(
        max_length=16, blank=True, editable=False, help_text="The words' key when stored."
    )
    # The site's country, harbour region and location rounded to PUBLIC_PRECISION_DEG, copied
    # onto the listing so that the partner API's public search filters and answers from this
    # one row (indexed below) without joining the site. Written only by listings.services
    # (listing_create/update, site_update and friends), never edited by hand; null only on
    # rows written around the services (bulk loads), which the public search then skips.
    country = models.ForeignKey(
        Country,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        db_index=False,
        related_name="+",
        help_text="The site's country (kept in step by listings.services).",
    )
    region = models.ForeignKey(
        HarborRegion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        db_index=False,
        related_name="+",
        help_text="The site's harbour region (kept in step by listings.services).",
    )
    approx_lat = models.FloatField(
        null=True, blank=True, editable=False, help_text="The site's latitude, rounded."
    )
    approx_lon = models.FloatField(
        null=True, blank=True, editable=False, help_text="The site's longitude, rounded."
    )

    objects = ListingQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.ref or f"{self.title} ({self.pk})"


def _listing_constraints(model: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(quantity__gt=0), name=f"listings_{model}_quantity_positive"
        ),
        models.CheckConstraint(
            condition=Q(annual_quantity__gt=0), name=f"listings_{model}_annual_quantity_positive"
        ),
        models.CheckConstraint(
            condition=Q(status__in=ListingStatus.values), name=f"listings_{model}_status_valid"
        ),
        models.CheckConstraint(
            condition=Q(resource_type__in=ResourceType.values),
            name=f"listings_{model}_resource_type_valid",
        ),
        models.CheckConstraint(
            condition=Q(unit__in=Unit.values), name=f"listings_{model}_unit_valid"
        ),
        models.CheckConstraint(
            condition=Q(frequency__in=Frequency.values), name=f"listings_{model}_frequency_valid"
        ),
        models.CheckConstraint(
            condition=Q(version__gte=1), name=f"listings_{model}_version_positive"
        ),
        models.CheckConstraint(
            condition=Q(available_from__isnull=True)
            | Q(available_until__isnull=True)
            | Q(available_until__gte=models.F("available_from")),
            name=f"listings_{model}_window_ordered",
        ),
        models.UniqueConstraint(
            fields=["ref"], condition=~Q(ref=""), name=f"listings_{model}_ref_unique"
        ),
    ]


def offer_public_id() -> str:
    """An opaque, random public id for an offer: it cannot be guessed, enumerated or linked to
    the row's primary key or to its organisation (the partner API's anonymised search)."""
    return "off_" + secrets.token_urlsafe(12)


def demand_public_id() -> str:
    return "dem_" + secrets.token_urlsafe(12)


def _public_search_indexes(model: str) -> list[models.Index]:
    """The partner API's public search (listings.selectors.listing_search_public) on published
    listings, newest first (keyset pagination on created_at), stopping after a page.

    Each index walks in that order, led by the filter it serves (nothing, a country, a harbour
    region); the filters it does not lead with but often meets (List of Waste code or prefix,
    category, radius box) are trailing key columns, which PostgreSQL checks inside the index,
    so only the rows of the page are read from the table. A whole code has its own index, and
    a radius search in an empty area its box. EXPLAIN ANALYZE of every filter mix of bench_api
    at 1M listings: docs/benchmarks.md.
    """
    published = Q(status="published")
    walk = ["-created_at", "-id"]
    return [
        models.Index(
            fields=[*walk, "waste_code", "category", "approx_lat", "approx_lon"],
            name=f"listings_{model}_public_idx",
            condition=published,
        ),
        models.Index(
            fields=["waste_code", "-created_at"],
            name=f"listings_{model}_pubcode_idx",
            condition=published,
        ),
        models.Index(
            fields=["country", *walk, "waste_code"],
            name=f"listings_{model}_pubcountry_idx",
            condition=published,
        ),
        models.Index(
            fields=["region", *walk, "waste_code"],
            name=f"listings_{model}_pubregion_idx",
            condition=published,
        ),
        models.Index(
            fields=["approx_lat", "approx_lon"],
            name=f"listings_{model}_pubnear_idx",
            condition=published,
        ),
    ]


class Offer(Listing):
    """A residue, by-product, surplus energy or water that an organisation can give."""

    class WasteStatus(models.TextChoices):
        WASTE = "waste", _("Waste")
        BY_PRODUCT = "by_product", _("By-product")
        END_OF_WASTE = "end_of_waste", _("End-of-waste")
        PRODUCT = "product", _("Product")
        UNKNOWN = "unknown", _("Unknown")

    class Evidence(models.TextChoices):
        EU_REGULATION = "eu_regulation", _("EU end-of-waste regulation, statement of conformity")
        NATIONAL_ORIGIN = "national_origin", _("National decision in the country of origin only")
        NATIONAL_BOTH = "national_both", _("National decisions in both countries")
        SELF_DECLARED = "self_declared", _("Self-declared")
        NONE = "none", _("None")

    class ListClass(models.TextChoices):
        GREEN = "green", _("Green-listed (Annex III)")
        AMBER = "amber", _("Amber-listed (Annex IV)")
        UNLISTED = "unlisted", _("Unlisted")

    class PhysicalForm(models.TextChoices):
        SOLID = "solid", _("Solid")
        POWDER = "powder", _("Powder")
        SLUDGE = "sludge", _("Sludge")
        LIQUID = "liquid", _("Liquid")
        GAS = "gas", _("Gas")
        HEAT = "heat", _("Heat or steam")

    waste_status = models.CharField(
        max_length=12, choices=WasteStatus.choices, default=WasteStatus.UNKNOWN
    )
    status_evidence = models.CharField(
        max_length=16, choices=Evidence.choices, default=Evidence.NONE
    )
    list_class = models.CharField(max_length=8, choices=ListClass.choices, blank=True)
    basel_code = models.CharField(max_length=12, blank=True)
    hazardous = models.BooleanField(default=False)
    mixture = models.BooleanField(default=False)
    contaminated = models.BooleanField(default=False)
    pops = models.BooleanField("contains POPs", default=False)
    physical_form = models.CharField(max_length=8, choices=PhysicalForm.choices, blank=True)
    price_eur_per_unit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Price per unit; negative for a gate fee the offering company pays.",
    )
    can_deliver = models.BooleanField(default=False)
    public_id = models.CharField(
        max_length=24, unique=True, default=offer_public_id, editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            *_listing_constraints("offer"),
            models.CheckConstraint(
                condition=Q(
                    waste_status__in=["waste", "by_product", "end_of_waste", "product", "unknown"]
                ),
                name="listings_offer_waste_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "resource_type"], name="listings_offer_status_idx"),
            *_public_search_indexes("offer"),
            models.Index(
                fields=["needs_matching", "matching_requested_at"],
                name="listings_offer_flagged_idx",
                condition=Q(needs_matching=True),
            ),
            # Matching's cached index finds the rows edited since it last looked
            # (matching/candidates.py) with a range scan of this, not of the whole table.
            models.Index(fields=["updated_at"], name="listings_offer_updated_idx"),
        ]


class Demand(Listing):
    """An input an organisation could take."""

    accepted_codes = models.ManyToManyField(WasteCode, blank=True, related_name="accepting_demands")
    accepted_categories = models.ManyToManyField(
        MaterialCategory, blank=True, related_name="accepting_demands"
    )
    quantity_min = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="The least quantity worth taking, in the same unit and frequency.",
    )
    max_distance_km = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the default for the resource type."
    )
    operation = models.ForeignKey(
        Operation, on_delete=models.PROTECT, null=True, blank=True, related_name="demands"
    )
    has_permit = models.BooleanField("holds a permit to receive waste", default=False)
    accepts_hazardous = models.BooleanField(default=False)
    public_id = models.CharField(
        max_length=24, unique=True, default=demand_public_id, editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            *_listing_constraints("demand"),
            models.CheckConstraint(
                condition=Q(quantity_min__isnull=True) | Q(quantity_min__gt=0),
                name="listings_demand_quantity_min_positive",
            ),
            models.CheckConstraint(
                condition=Q(quantity_min__isnull=True) | Q(quantity_min__lte=models.F("quantity")),
                name="listings_demand_quantity_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(max_distance_km__isnull=True) | Q(max_distance_km__gt=0),
                name="listings_demand_max_distance_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "resource_type"], name="listings_demand_status_idx"),
            *_public_search_indexes("demand"),
            models.Index(
                fields=["needs_matching", "matching_requested_at"],
                name="listings_demand_flagged_idx",
                condition=Q(needs_matching=True),
            ),
            # Matching's cached index finds the rows edited since it last looked
            # (matching/candidates.py) with a range scan of this, not of the whole table.
            models.Index(fields=["updated_at"], name="listings_demand_updated_idx"),
        ]


class ApiToken(TimeStampedModel):
    """A partner's bearer token for the REST API (symbiosis/api.py).

    It belongs to an organisation (it reads and writes that organisation's data, acting as the
    member who created it) or to a facilitator (it works the facilitator's harbour regions).
    Only the SHA-256 digest of the token is stored: the secret is shown once, when it is made.
    The public ``prefix`` finds the row; the digest is compared in constant time.
    """

    class Kind(models.TextChoices):
        ORGANIZATION = "organization", _("Organisation")
        FACILITATOR = "facilitator", _("Facilitator")

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Write")
        FACILITATE = "facilitate", _("Facilitate")

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.CharField(max_length=40, help_text="Space-separated: read, write, facilitate.")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="organization", organization__isnull=False)
                | Q(kind="facilitator", organization__isnull=True),
                name="listings_apitoken_owner_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(scopes__regex=r"^(read|write|facilitate)( (read|write|facilitate))*$"),
                name="listings_apitoken_scopes_valid",
            ),
            models.CheckConstraint(
                condition=(Q(kind="organization") & ~Q(scopes__contains="facilitate"))
                | (Q(kind="facilitator") & ~Q(scopes__contains="write")),
                name="listings_apitoken_scopes_fit_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
