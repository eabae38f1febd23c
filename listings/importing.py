"""Bulk import of organisations, offers and demands: `manage.py import_listings`, the portal's
upload and the API share this module.

The format (CONTRACTS.md) is a CSV or XLSX file whose header row is HEADER. A file with any bad
row imports nothing: every bad row is reported with its row number (the header is row 1), its
column and the reason. `ref` is the caller's stable key, so importing the same file twice
updates rows and creates nothing twice; an unchanged row is left alone.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from harbors.geocoding import geocode_city
from harbors.models import Country
from symbiosis.exceptions import ApplicationError

from . import services
from .models import (
    Demand,
    ListingStatus,
    MaterialCategory,
    NaceCode,
    Offer,
    Operation,
    Organization,
    ResourceType,
    Site,
    WasteCode,
)
from .reference_tables import normalise_low_code
from .units import FREQUENCIES, UNITS

HEADER = (
    "ref",
    "kind",
    "organization",
    "nace",
    "country",
    "city",
    "lat",
    "lon",
    "title",
    "description",
    "low_code",
    "category",
    "quantity",
    "unit",
    "frequency",
    "waste_status",
    "operation",
    "max_distance_km",
)
KINDS = ("offer", "demand", "organization")
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_ROWS = 5000
ENERGY_UNITS = {"MWh", "GJ"}


class ImportFileError(ApplicationError):
    """The file as a whole cannot be read: type, size, encoding or header."""

    code = "import_file_invalid"
    http_status = 400


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


class ImportRejectedError(ApplicationError):
    """At least one row is bad; nothing was imported."""

    code = "import_rejected"
    http_status = 400

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            f"{len(errors)} problem(s) found; nothing was imported.",
            errors=[{"row": e.row, "column": e.column, "reason": e.reason} for e in errors],
        )
        self.errors = errors


@dataclass(slots=True)
class ParsedRow:
    row: int
    ref: str
    kind: str
    organization: str
    nace: NaceCode | None
    country: Country
    city: str
    lat: float
    lon: float
    title: str = ""
    description: str = ""
    waste_code: WasteCode | None = None
    category: MaterialCategory | None = None
    quantity: Decimal | None = None
    unit: str = ""
    frequency: str = ""
    waste_status: str = ""
    operation: Operation | None = None
    max_distance_km: int | None = None


@dataclass(slots=True)
class ImportSummary:
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    rows: list[ParsedRow] = field(default_factory=list)
    # Row number → "created", "updated" or "unchanged"; a dry run fills it too.
    outcomes: dict[int, str] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [
            f"{kind}s: {self.created[kind]} created, {self.updated[kind]} updated, "
            f"{self.unchanged[kind]} unchanged"
            for kind in KINDS
        ]
        return "; ".join(parts)


# --- reading ---------------------------------------------------------------------------------


def read_table(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a CSV or XLSX file as (row number, {column: text})."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    name = filename.lower()
    if name.endswith(".xlsx"):
        table = _read_xlsx(data)
    elif name.endswith((".csv", ".txt")):
        table = _read_csv(data)
    else:
        raise ImportFileError("Upload a .csv or .xlsx file.")
    if not table:
        raise ImportFileError("The file is empty.")
    header = [cell.strip().lower() for cell in table[0]]
    missing = [c for c in HEADER if c not in header]
    unknown = [c for c in header if c and c not in HEADER]
    if missing or unknown:
        raise ImportFileError(
            "The header row must be: "
            + ",".join(HEADER)
            + "."
            + (f" Missing: {', '.join(missing)}." if missing else "")
            + (f" Unknown: {', '.join(unknown)}." if unknown else ""),
            missing=missing,
            unknown=unknown,
        )
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        padded = [*cells, *[""] * (len(header) - len(cells))]
        rows.append((number, {col: padded[i].strip() for i, col in enumerate(header) if col}))
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"The file has {len(rows)} rows; the limit is {MAX_ROWS}.")
    if not rows:
        raise ImportFileError("The file has a header but no rows.")
    return rows


def _read_csv(data: bytes) -> list[list[str]]:
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError("This looks like a spreadsheet; save it as .xlsx or as CSV.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is not UTF-8 text (byte {exc.start}). Save it as CSV UTF-8."
        ) from exc
    if "\x00" in text:
        raise ImportFileError("The file contains NUL bytes; it is not a CSV file.")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFileError(f"The CSV cannot be read: {exc}.") from exc


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    if not data.startswith(b"PK\x03\x04"):
        raise ImportFileError("The file is not an XLSX workbook.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_XLSX_UNPACKED_BYTES:
                raise ImportFileError("The workbook unpacks to more than 50 MB.")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError("The XLSX workbook cannot be read.") from exc
    sheet = workbook.worksheets[0]
    table = []
    for index, values in enumerate(sheet.iter_rows(values_only=True)):
        if index > MAX_ROWS + 1:
            raise ImportFileError(f"The workbook has more than {MAX_ROWS} rows.")
        table.append([_cell_text(v) for v in values])
    workbook.close()
    return table


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- validating ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reference:
    countries: dict[str, Country]
    nace: dict[str, NaceCode]
    codes: dict[str, WasteCode]
    categories: dict[str, MaterialCategory]
    operations: dict[str, Operation]

    @classmethod
    def load(cls) -> _Reference:
        nace: dict[str, NaceCode] = {}
        for code in NaceCode.objects.order_by("-version"):  # Rev. 2 wins where both exist
            nace[code.code] = code
        return cls(
            countries={c.code: c for c in Country.objects.all()},
            nace=nace,
            codes={c.code: c for c in WasteCode.objects.all()},
            categories={c.slug: c for c in MaterialCategory.objects.all()},
            operations={o.code: o for o in Operation.objects.all()},
        )


def validate_rows(
    rows: Iterable[tuple[int, dict[str, str]]],
) -> tuple[list[ParsedRow], list[RowError]]:
    """Parse every row and collect every problem; a row with problems is not returned."""
    reference = _Reference.load()
    parsed: list[ParsedRow] = []
    errors: list[RowError] = []
    seen_refs: dict[tuple[str, str], int] = {}
    org_nace: dict[tuple[str, str], tuple[str, int]] = {}
    for number, cells in rows:
        row_errors: list[RowError] = []

        def bad(column: str, reason: str, number: int = number, out: list = row_errors) -> None:
            out.append(RowError(number, column, reason))

        result = _parse_row(number, cells, reference, bad)
        if result is not None and not row_errors:
            key = (result.kind, result.ref)
            if key in seen_refs:
                first = seen_refs[key]
                bad("ref", f"ref {result.ref!r} is used twice for {result.kind}s (row {first})")
            seen_refs.setdefault(key, number)
            org_key = (result.organization.casefold(), result.country.code)
            nace_code = result.nace.code if result.nace else ""
            if nace_code and org_key in org_nace and org_nace[org_key][0] != nace_code:
                first_nace, first_row = org_nace[org_key]
                bad("nace", f"{result.organization} has NACE {first_nace} on row {first_row}")
            elif nace_code:
                org_nace.setdefault(org_key, (nace_code, number))
        if row_errors:
            errors.extend(row_errors)
        elif result is not None:
            parsed.append(result)
    return parsed, errors


def _parse_row(number: int, cells: dict[str, str], ref: _Reference, bad: Any) -> ParsedRow | None:
    kind = cells["kind"].lower()
    if kind not in KINDS:
        bad("kind", f"must be one of {', '.join(KINDS)}, not {cells['kind']!r}")
        return None
    if not cells["ref"]:
        bad("ref", "is required: it is your stable key for this row")
    elif len(cells["ref"]) > 80:
        bad("ref", "is longer than 80 characters")
    if not cells["organization"]:
        bad("organization", "is required")
    elif len(cells["organization"]) > 200:
        bad("organization", "is longer than 200 characters")

    country = ref.countries.get(cells["country"].upper())
    if country is None:
        bad("country", f"unknown country {cells['country']!r}; use ISO codes such as BE, NL, DE")

    nace = None
    if cells["nace"]:
        nace = ref.nace.get(cells["nace"])
        if nace is None:
            bad("nace", f"unknown NACE code {cells['nace']!r}; use the form 23.51")

    lat = lon = None
    if cells["lat"] or cells["lon"]:
        lat = _number(cells["lat"], "lat", -90, 90, bad)
        lon = _number(cells["lon"], "lon", -180, 180, bad)
    elif country is not None:
        place = geocode_city(cells["city"], country.code)
        if place is None:
            column = "city" if cells["city"] else "lat"
            bad(column, "no coordinates: give lat and lon, or a city we can find in that country")
        else:
            lat, lon = place.lat, place.lon

    row = ParsedRow(
        row=number,
        ref=cells["ref"],
        kind=kind,
        organization=cells["organization"],
        nace=nace,
        country=country,  # type: ignore[arg-type]  # checked through `bad` below
        city=cells["city"][:120],
        lat=lat if lat is not None else 0.0,
        lon=lon if lon is not None else 0.0,
    )
    if kind != "organization":
        _parse_listing(row, cells, ref, bad)
    return row


def _number(text: str, column: str, low: float, high: float, bad: Any) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        bad(column, f"{text!r} is not a number")
        return None
    if not low <= value <= high:
        bad(column, f"{value} is outside {low}..{high}")
        return None
    return value


def _parse_listing(row: ParsedRow, cells: dict[str, str], ref: _Reference, bad: Any) -> None:
    row.title = cells["title"]
    row.description = cells["description"]
    if not row.title:
        bad("title", "is required for an offer or a demand")
    elif len(row.title) > 200:
        bad("title", "is longer than 200 characters")

    if cells["low_code"]:
        try:
            code = normalise_low_code(cells["low_code"])
        except ValueError as exc:
            bad("low_code", str(exc))
        else:
            row.waste_code = ref.codes.get(code)
            if row.waste_code is None:
                bad("low_code", f"{cells['low_code']!r} is not in the European List of Waste")
    if cells["category"]:
        row.category = ref.categories.get(cells["category"].lower())
        if row.category is None:
            bad("category", f"unknown category {cells['category']!r}")
    if not cells["low_code"] and not cells["category"]:
        bad("low_code", "give a List of Waste code or a category, so the material can be matched")

    try:
        row.quantity = Decimal(cells["quantity"].replace(",", "."))
    except InvalidOperation:
        bad(
            "quantity",
            f"{cells['quantity']!r} is not a number" if cells["quantity"] else "is required",
        )
    else:
        if not row.quantity.is_finite() or row.quantity <= 0:
            bad("quantity", "must be more than zero")
        elif row.quantity >= Decimal("1e11"):
            bad("quantity", "is too large")
    units_by_lower = {u.lower(): u for u in UNITS}
    row.unit = units_by_lower.get(cells["unit"].lower(), "")
    if not row.unit:
        bad("unit", f"must be one of {', '.join(UNITS)}, not {cells['unit']!r}")
    row.frequency = cells["frequency"].lower()
    if row.frequency not in FREQUENCIES:
        bad("frequency", f"must be one of {', '.join(FREQUENCIES)}, not {cells['frequency']!r}")

    resource_type = row.category.resource_type if row.category else ResourceType.MATERIAL
    if row.unit and (resource_type == ResourceType.ENERGY) != (row.unit in ENERGY_UNITS):
        bad("unit", f"{row.unit} does not fit a {resource_type} listing")

    if row.kind == "offer":
        statuses = Offer.WasteStatus.values
        row.waste_status = cells["waste_status"].lower() or Offer.WasteStatus.UNKNOWN
        if row.waste_status not in statuses:
            bad("waste_status", f"must be one of {', '.join(statuses)}")
        if cells["operation"]:
            bad("operation", "applies to demands only")
        if cells["max_distance_km"]:
            bad("max_distance_km", "applies to demands only")
    else:
        if cells["waste_status"]:
            bad("waste_status", "applies to offers only")
        if cells["operation"]:
            row.operation = ref.operations.get(cells["operation"].upper().replace(" ", ""))
            if row.operation is None:
                bad("operation", f"{cells['operation']!r} is not an R1-R13 or D1-D15 operation")
        if cells["max_distance_km"]:
            try:
                row.max_distance_km = int(Decimal(cells["max_distance_km"]))
            except (InvalidOperation, ValueError):
                bad("max_distance_km", f"{cells['max_distance_km']!r} is not a number")
            else:
                if not 0 < row.max_distance_km <= 20000:
                    bad("max_distance_km", "must be between 1 and 20000")


# --- writing ---------------------------------------------------------------------------------


class _DryRunRollbackError(Exception):
    """Raised at the end of a dry run to roll back everything it wrote."""


def import_listings(
    *,
    data: bytes,
    filename: str,
    actor: User | None = None,
    dry_run: bool = False,
    only_organization: Organization | None = None,
) -> ImportSummary:
    """Import a file whole or not at all.

    Organisations created by an import are verified when a facilitator, staff or the command
    runs it (no `only_organization`): they vouch for them. Listings of verified organisations
    are published and queued for matching on commit; the others stay drafts.

    `only_organization`: a company's own upload. Every row must name that organisation and its
    country; a row naming any other is a row error, so a company never writes for another.

    `dry_run` runs the whole import in a transaction and rolls it back: the summary and its
    per-row outcomes say exactly what a real run would create, update or leave unchanged, and
    no task is queued (on-commit callbacks of a rolled-back transaction never run).
    Raises: import_file_invalid (the file), import_rejected (any row; lists every row error).
    """
    rows = read_table(data, filename)
    parsed, errors = validate_rows(rows)
    if only_organization is not None:
        errors = sorted([*errors, *_foreign_rows(rows, only_organization)], key=lambda e: e.row)
    if errors:
        raise ImportRejectedError(errors)
    summary = ImportSummary(rows=parsed)
    try:
        with transaction.atomic():
            conflicts = _ref_conflicts(parsed)
            if conflicts:
                raise ImportRejectedError(conflicts)
            for row in parsed:
                organization, org_created = _organization_for(row, actor, only_organization)
                site = _site_for(row, organization)
                if row.kind == "organization":
                    outcome = "created" if org_created else "unchanged"
                    if organization.ref != row.ref:
                        organization.ref = row.ref
                        organization.save(update_fields=["ref", "updated_at"])
                        outcome = "created" if org_created else "updated"
                else:
                    outcome = _upsert_listing(row, organization, site)
                getattr(summary, outcome)[row.kind] += 1
                summary.outcomes[row.row] = outcome
            if dry_run:
                raise _DryRunRollbackError
    except _DryRunRollbackError:
        pass
    return summary


def _foreign_rows(
    rows: Iterable[tuple[int, dict[str, str]]], organization: Organization
) -> list[RowError]:
    """Rows that name an organisation other than `organization` (name case-folded, country)."""
    name, country = organization.name.casefold(), organization.country_id
    errors = []
    for number, cells in rows:
        if (cells["organization"].casefold(), cells["country"].upper()) != (name, country):
            errors.append(
                RowError(
                    number,
                    "organization",
                    f"you can import rows for your own organisation only: "
                    f"{organization.name!r} in {country}",
                )
            )
    return errors


def _ref_conflicts(parsed: list[ParsedRow]) -> list[RowError]:
    """Refs that already belong to another organisation's listing."""
    errors = []
    for model, kind in ((Offer, "offer"), (Demand, "demand")):
        refs = {r.ref: r for r in parsed if r.kind == kind}
        owners = model.objects.filter(ref__in=refs).values_list(
            "ref", "organization__name", "organization__country"
        )
        for ref, name, country in owners:
            row = refs[ref]
            if (name.casefold(), country) != (row.organization.casefold(), row.country.code):
                errors.append(RowError(row.row, "ref", f"{ref!r} belongs to another organisation"))
    return errors


def _organization_for(
    row: ParsedRow, actor: User | None, only_organization: Organization | None = None
) -> tuple[Organization, bool]:
    # Names are compared case-folded in Python: SQLite's LOWER() leaves "Ø" and "É" alone.
    wanted = row.organization.casefold()
    organization = only_organization or next(
        (
            o
            for o in Organization.objects.filter(country=row.country)
            if o.name.casefold() == wanted
        ),
        None,
    )
    if organization is None:
        organization = services.organization_create(
            name=row.organization, country=row.country, nace=row.nace, verified_by=actor
        )
        if actor is None:
            services.organization_verify(organization=organization, by=None)
        return organization, True
    if row.nace and organization.nace_id != row.nace.pk:
        organization.nace = row.nace
        organization.save(update_fields=["nace", "updated_at"])
    return organization, False


def _site_for(row: ParsedRow, organization: Organization) -> Site:
    for site in organization.sites.all():
        if abs(site.lat - row.lat) < 1e-4 and abs(site.lon - row.lon) < 1e-4:
            return site
    return services.site_create(
        organization=organization,
        name=row.city or organization.name,
        country=row.country,
        lat=row.lat,
        lon=row.lon,
        city=row.city,
    )


def _listing_fields(row: ParsedRow, site: Site) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "site": site,
        "title": row.title,
        "description": row.description,
        "resource_type": row.category.resource_type if row.category else ResourceType.MATERIAL,
        "category": row.category,
        "waste_code": row.waste_code,
        "quantity": row.quantity,
        "unit": row.unit,
        "frequency": row.frequency,
    }
    if row.kind == "offer":
        fields["waste_status"] = row.waste_status
        fields["hazardous"] = bool(row.waste_code and row.waste_code.hazardous)
    else:
        fields["operation"] = row.operation
        fields["max_distance_km"] = row.max_distance_km
        fields["has_permit"] = row.operation is not None
        fields["accepts_hazardous"] = bool(row.waste_code and row.waste_code.hazardous)
    return fields


def _upsert_listing(row: ParsedRow, organization: Organization, site: Site) -> str:
    model: type[Offer] | type[Demand] = Offer if row.kind == "offer" else Demand
    fields = _listing_fields(row, site)
    accepted: dict[str, Any] = {}
    if model is Demand:
        accepted = {
            "accepted_codes": [row.waste_code] if row.waste_code else [],
            "accepted_categories": [row.category] if row.category else [],
        }
    existing = model.objects.filter(ref=row.ref).first()
    if existing is None:
        services.listing_create(
            model=model,
            organization=organization,
            ref=row.ref,
            publish=organization.is_verified,
            **accepted,
            **fields,
        )
        return "created"
    if existing.status == ListingStatus.CLOSED:
        return "unchanged"  # a closed listing stays closed; re-opening is a decision, not an import
    changed = {k: v for k, v in fields.items() if getattr(existing, k) != v}
    if isinstance(existing, Demand):
        codes = {c.pk for c in existing.accepted_codes.all()}
        categories = {c.pk for c in existing.accepted_categories.all()}
        if codes != {c.pk for c in accepted["accepted_codes"]} or categories != {
            c.pk for c in accepted["accepted_categories"]
        }:
            changed.update(accepted)
    if not changed:
        return "unchanged"
    services.listing_update(listing=existing, **changed)
    return "updated"
