"""The company portal (dashboard, offers and demands, sites, bulk upload, matches, the
organisation's export and closing), sign-up, and the facilitators' verification page.

Views are thin: they read through listings.selectors, scoped to the caller's organisation (a row
of another organisation is a 404), and write through listings.services and matching.workflow,
showing an ApplicationError's message to the user. The HTML layer sits above both apps, so it
calls matching.workflow directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from matching.workflow import match_respond
from symbiosis.exceptions import ApplicationError

from . import selectors, services
from .exports import export_csv_zip, export_json
from .forms import (
    CloseAccountForm,
    DemandForm,
    ImportUploadForm,
    ListingForm,
    MatchResponseForm,
    OfferForm,
    SignupForm,
    SiteForm,
)
from .importing import ImportFileError, ImportRejectedError, import_listings
from .models import Demand, ListingStatus, Membership, Offer
from .uploads import Stash, upload_discard, upload_load, upload_stash

audit = logging.getLogger("symbiosis.audit")

KINDS: dict[str, tuple[type[Offer] | type[Demand], type[ListingForm]]] = {
    "offer": (Offer, OfferForm),
    "demand": (Demand, DemandForm),
}
LISTINGS_PER_PAGE = 50
MATCHES_PER_PAGE = 25
UPLOAD_SESSION_KEY = "listings_upload"

View = Callable[..., HttpResponse]


def company_view(view: View) -> View:
    """Log in first; then the view gets the caller's Membership, or a page saying they belong
    to no organisation."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = selectors.membership_for_user(user=request.user)
        if membership is None:
            return render(request, "listings/no_organization.html", status=403)
        return view(request, membership, *args, **kwargs)

    return login_required(wrapper)


def admin_view(view: View) -> View:
    """A company view for the organisation's administrators only."""

    @wraps(view)
    def wrapper(
        request: HttpRequest, membership: Membership, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        if membership.role != Membership.Role.ADMIN:
            audit.warning("denied: user %s admin page %s", request.user.pk, request.path)
            return render(
                request, "listings/admin_required.html", {"membership": membership}, status=403
            )
        return view(request, membership, *args, **kwargs)

    return company_view(wrapper)


# The portal's words for the services' stable error codes (translated); any other
# ApplicationError shows its own message.
ERROR_MESSAGES = {
    "organization_not_verified": gettext_lazy(
        "A facilitator of your harbour region verifies the organisation before its listings go "
        "live. Until then listings stay drafts."
    ),
    "listing_closed": gettext_lazy("This listing is closed; it cannot be changed."),
    "listing_not_publishable": gettext_lazy("Only drafts and paused listings can be published."),
    "match_not_permitted": gettext_lazy("You cannot answer this match any more."),
    "match_note_required": gettext_lazy("Say why you are not interested."),
    "organization_not_permitted": gettext_lazy(
        "Only an administrator of the organisation can do this."
    ),
    "organization_closed": gettext_lazy("The organisation is closed."),
}


def _error(request: HttpRequest, exc: ApplicationError) -> None:
    """Show a service's refusal as an error message."""
    messages.error(request, ERROR_MESSAGES.get(exc.code, exc.message))


def _add_errors(form: Any, exc: ValidationError) -> None:
    """A ValidationError from a service, on the form (as non-field errors)."""
    form.add_error(None, exc.messages)


def _listing_or_404(membership: Membership, kind: str, pk: int) -> Offer | Demand:
    model, _form = KINDS[kind]
    listing = selectors.listing_get_for_organization(
        model=model, organization=membership.organization, pk=pk
    )
    if listing is None:
        raise Http404
    return listing


def _detail_url(listing: Offer | Demand) -> str:
    kind = "offer" if isinstance(listing, Offer) else "demand"
    return reverse(f"listings:{kind}-detail", args=[listing.pk])


def _publish(request: HttpRequest, listing: Offer | Demand) -> bool:
    try:
        services.listing_publish(listing=listing)
    except ApplicationError as exc:
        _error(request, exc)
        return False
    messages.success(
        request, _("Published. Matching runs in the background; new matches appear under Matches.")
    )
    return True


# --- home, sign-up -----------------------------------------------------------------------------


def home_view(request: HttpRequest) -> HttpResponse:
    """The landing page; a company member goes straight to the dashboard."""
    if selectors.membership_for_user(user=request.user) is not None:
        return redirect("listings:dashboard")
    return render(request, "home.html")


@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        messages.info(request, _("You are logged in already."))
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registration = services.organization_register(
                name=data["organization_name"].strip(),
                country=data["country"],
                nace=data["nace"],
                website=data["website"],
                site_name=data["site_name"],
                city=data["city"],
                address=data["address"],
                lat=data["lat"],
                lon=data["lon"],
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                phone=data["phone"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            login(request, registration.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _(
                    "Welcome! %(name)s is registered. A facilitator of your harbour region will "
                    "verify it; until then you can prepare your offers and demands as drafts."
                )
                % {"name": registration.organization.name},
            )
            return redirect("listings:dashboard")
    return render(request, "listings/signup.html", {"form": form})


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """The page django-axes shows when a username and address are locked out (HTTP 429)."""
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else 0
    return render(
        request,
        "registration/locked_out.html",
        {"failure_limit": get_failure_limit(request, credentials), "minutes": max(minutes, 1)},
        status=429,
    )


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's view; a new password also lifts the log-in lockout of its username."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response


# --- dashboard ---------------------------------------------------------------------------------


@company_view
def dashboard_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    latest = selectors.company_match_list(
        user=request.user, organization_id=organization.pk
    ).order_by("-created_at", "-id")[:5]
    return render(
        request,
        "listings/dashboard.html",
        {
            "membership": membership,
            "organization": organization,
            "offer_counts": selectors.listing_status_counts(model=Offer, organization=organization),
            "demand_counts": selectors.listing_status_counts(
                model=Demand, organization=organization
            ),
            "stage_counts": selectors.company_match_stage_counts(
                user=request.user, organization_id=organization.pk
            ),
            "latest": [
                selectors.company_match_view(match=m, organization_id=organization.pk)
                for m in latest
            ],
        },
    )


# --- offers and demands ------------------------------------------------------------------------


@company_view
def listing_list_view(request: HttpRequest, membership: Membership, kind: str) -> HttpResponse:
    model, _form = KINDS[kind]
    status = request.GET.get("status", "")
    if status not in ListingStatus.values:
        status = ""
    listings = selectors.listing_list_for_organization(
        model=model, organization=membership.organization, status=status
    )
    page = Paginator(listings, LISTINGS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "listings/listing_list.html",
        {
            "membership": membership,
            "kind": kind,
            "page": page,
            "status": status,
            "statuses": ListingStatus.choices,
        },
    )


@company_view
@require_http_methods(["GET", "POST"])
def listing_create_view(request: HttpRequest, membership: Membership, kind: str) -> HttpResponse:
    model, form_class = KINDS[kind]
    organization = membership.organization
    form = form_class(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            listing = services.listing_create(
                model=model, organization=organization, **form.service_fields()
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            if "publish" not in request.POST or not _publish(request, listing):
                messages.success(request, _("Saved as a draft."))
            return redirect(_detail_url(listing))
    return render(
        request,
        "listings/listing_form.html",
        {"membership": membership, "kind": kind, "form": form, "listing": None},
    )


@company_view
def listing_detail_view(
    request: HttpRequest, membership: Membership, kind: str, pk: int
) -> HttpResponse:
    listing = _listing_or_404(membership, kind, pk)
    return render(
        request,
        "listings/listing_detail.html",
        {"membership": membership, "kind": kind, "listing": listing},
    )


@company_view
@require_http_methods(["GET", "POST"])
def listing_edit_view(
    request: HttpRequest, membership: Membership, kind: str, pk: int
) -> HttpResponse:
    listing = _listing_or_404(membership, kind, pk)
    _model, form_class = KINDS[kind]
    if listing.status == ListingStatus.CLOSED:
        messages.error(request, _("This listing is closed and cannot be edited."))
        return redirect(_detail_url(listing))
    form = form_class(
        request.POST or None,
        organization=membership.organization,
        initial=form_class.initial_for(listing),
    )
    if request.method == "POST" and form.is_valid():
        try:
            listing = services.listing_update(listing=listing, **form.service_fields())
        except ValidationError as exc:
            _add_errors(form, exc)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            if listing.status == ListingStatus.PUBLISHED:
                messages.success(request, _("Saved. The listing is matched again."))
            else:
                messages.success(request, _("Saved."))
            return redirect(_detail_url(listing))
    return render(
        request,
        "listings/listing_form.html",
        {"membership": membership, "kind": kind, "form": form, "listing": listing},
    )


@company_view
@require_POST
def listing_publish_view(
    request: HttpRequest, membership: Membership, kind: str, pk: int
) -> HttpResponse:
    listing = _listing_or_404(membership, kind, pk)
    _publish(request, listing)
    return redirect(_detail_url(listing))


@company_view
@require_POST
def listing_pause_view(
    request: HttpRequest, membership: Membership, kind: str, pk: int
) -> HttpResponse:
    listing = _listing_or_404(membership, kind, pk)
    if listing.status != ListingStatus.PUBLISHED:
        messages.error(request, _("Only a published listing can be paused."))
        return redirect(_detail_url(listing))
    try:
        services.listing_set_status(listing=listing, status=ListingStatus.PAUSED)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("Paused. It is no longer matched; publish it again to resume."),
        )
    return redirect(_detail_url(listing))


@company_view
@require_http_methods(["GET", "POST"])
def listing_close_view(
    request: HttpRequest, membership: Membership, kind: str, pk: int
) -> HttpResponse:
    listing = _listing_or_404(membership, kind, pk)
    if request.method == "POST":
        try:
            services.listing_set_status(listing=listing, status=ListingStatus.CLOSED)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("Closed. Matches already in progress stay visible."))
        return redirect(_detail_url(listing))
    return render(
        request,
        "listings/listing_close.html",
        {"membership": membership, "kind": kind, "listing": listing},
    )


# --- sites -------------------------------------------------------------------------------------


@company_view
def site_list_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    sites = selectors.site_list_for_organization(organization=membership.organization)
    return render(request, "listings/site_list.html", {"membership": membership, "sites": sites})


@company_view
@require_http_methods(["GET", "POST"])
def site_create_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    form = SiteForm(request.POST or None, initial={"country": organization.country_id})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            site = services.site_create(
                organization=organization,
                name=data["name"],
                country=data["country"],
                lat=data["lat"],
                lon=data["lon"],
                city=data["city"],
                address=data["address"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request,
                _("Site “%(name)s” added.") % {"name": site.name},
            )
            return redirect("listings:site-list")
    return render(request, "listings/site_form.html", {"membership": membership, "form": form})


# --- pickers -----------------------------------------------------------------------------------


@login_required
@require_GET
def waste_code_lookup_view(request: HttpRequest) -> JsonResponse:
    """The List of Waste picker: the first 20 entries by code prefix or by title words."""
    codes = selectors.waste_code_search(request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {
                    "value": c.display_code,
                    "label": f"{c.display_code} {c.title}",
                    "code": c.code,
                    "title": c.title,
                    "hazardous": c.hazardous,
                }
                for c in codes
            ]
        }
    )


@require_GET
def nace_lookup_view(request: HttpRequest) -> JsonResponse:
    """The NACE picker of the sign-up form (public reference data)."""
    codes = selectors.nace_code_search(request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {
                    "value": c.code,
                    "label": f"{c.code} {c.title}",
                    "code": c.code,
                    "title": c.title,
                    "version": c.version,
                }
                for c in codes
            ]
        }
    )


# --- bulk upload -------------------------------------------------------------------------------


def _upload_page(
    request: HttpRequest,
    membership: Membership,
    form: ImportUploadForm,
    errors: list[Any] | None = None,
) -> HttpResponse:
    return render(
        request,
        "listings/upload.html",
        {"membership": membership, "form": form, "row_errors": errors or []},
    )


@company_view
@require_http_methods(["GET", "POST"])
def upload_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Upload a CSV or XLSX file and preview what it would create and update (a dry run)."""
    organization = membership.organization
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method != "POST" or not form.is_valid():
        return _upload_page(request, membership, form)
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        summary = import_listings(
            data=data,
            filename=upload.name,
            actor=request.user,
            dry_run=True,
            only_organization=organization,
        )
    except ImportFileError as exc:
        form.add_error("file", exc.message)
        return _upload_page(request, membership, form)
    except ImportRejectedError as exc:
        return _upload_page(request, membership, form, exc.errors)
    previous = Stash.from_session(request.session.get(UPLOAD_SESSION_KEY))
    if previous is not None:
        upload_discard(previous)
    stash = upload_stash(data=data, filename=upload.name, organization_id=organization.pk)
    request.session[UPLOAD_SESSION_KEY] = stash.as_session()
    return render(
        request,
        "listings/upload_preview.html",
        {
            "membership": membership,
            "summary": summary,
            "filename": stash.filename,
            "rows": [(row, summary.outcomes.get(row.row, "")) for row in summary.rows],
        },
    )


def _stash_for(request: HttpRequest, membership: Membership) -> Stash | None:
    stash = Stash.from_session(request.session.get(UPLOAD_SESSION_KEY))
    if stash is None or stash.organization_id != membership.organization_id:
        return None
    return stash


@company_view
@require_POST
def upload_confirm_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Import the previewed file: every row or none."""
    stash = _stash_for(request, membership)
    data = upload_load(stash) if stash is not None else None
    if stash is None or data is None:
        messages.error(request, _("The preview has expired; upload the file again."))
        return redirect("listings:upload")
    try:
        summary = import_listings(
            data=data,
            filename=stash.filename,
            actor=request.user,
            only_organization=membership.organization,
        )
    except ImportFileError as exc:
        form = ImportUploadForm()
        form.add_error(None, exc.message)
        return _upload_page(request, membership, form)
    except ImportRejectedError as exc:
        return _upload_page(request, membership, ImportUploadForm(), exc.errors)
    finally:
        upload_discard(stash)
        request.session.pop(UPLOAD_SESSION_KEY, None)
    audit.info(
        "user %s imported %s for organisation %s: %s",
        request.user.pk,
        stash.filename,
        membership.organization_id,
        summary,
    )
    messages.success(
        request,
        _(
            "Imported. Offers: %(oc)d created, %(ou)d updated. "
            "Demands: %(dc)d created, %(du)d updated."
        )
        % {
            "oc": summary.created["offer"],
            "ou": summary.updated["offer"],
            "dc": summary.created["demand"],
            "du": summary.updated["demand"],
        },
    )
    return redirect("listings:dashboard")


@company_view
@require_POST
def upload_cancel_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    stash = _stash_for(request, membership)
    if stash is not None:
        upload_discard(stash)
    request.session.pop(UPLOAD_SESSION_KEY, None)
    messages.info(request, _("Nothing was imported."))
    return redirect("listings:upload")


# --- matches -----------------------------------------------------------------------------------


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@company_view
def match_list_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization_id = membership.organization_id
    matches = selectors.company_match_list(user=request.user, organization_id=organization_id)
    offer_id, demand_id = _int_param(request, "offer"), _int_param(request, "demand")
    if offer_id is not None:
        matches = matches.filter(offer_id=offer_id)
    if demand_id is not None:
        matches = matches.filter(demand_id=demand_id)
    page = Paginator(matches, MATCHES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "listings/match_list.html",
        {
            "membership": membership,
            "page": page,
            "rows": [
                selectors.company_match_view(match=m, organization_id=organization_id) for m in page
            ],
            "filtered": offer_id is not None or demand_id is not None,
        },
    )


def _match_or_404(request: HttpRequest, membership: Membership, pk: int) -> Any:
    view = selectors.company_match_get(
        user=request.user, organization_id=membership.organization_id, match_id=pk
    )
    if view is None:
        raise Http404
    return view


def _match_page(
    request: HttpRequest, membership: Membership, view: Any, form: MatchResponseForm
) -> HttpResponse:
    return render(
        request,
        "listings/match_detail.html",
        {"membership": membership, "m": view, "form": form},
    )


@company_view
def match_detail_view(request: HttpRequest, membership: Membership, pk: int) -> HttpResponse:
    view = _match_or_404(request, membership, pk)
    form = MatchResponseForm(
        initial={"response": view.response or None, "reason": view.response_reason}
    )
    return _match_page(request, membership, view, form)


@company_view
@require_POST
def match_respond_view(request: HttpRequest, membership: Membership, pk: int) -> HttpResponse:
    view = _match_or_404(request, membership, pk)
    form = MatchResponseForm(request.POST)
    if not form.is_valid():
        return _match_page(request, membership, view, form)
    try:
        match_respond(
            match=view.match,
            user=request.user,
            response=form.cleaned_data["response"],
            reason=form.cleaned_data["reason"],
        )
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Thank you: your answer is recorded."))
    return redirect("listings:match-detail", pk=pk)


# --- the organisation --------------------------------------------------------------------------


@company_view
def organization_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    return render(
        request,
        "listings/organization.html",
        {
            "membership": membership,
            "organization": organization,
            "members": selectors.membership_list_for_organization(organization=organization),
            "sites": selectors.site_list_for_organization(organization=organization),
            "is_admin": membership.role == Membership.Role.ADMIN,
        },
    )


@admin_view
@require_GET
def organization_export_view(
    request: HttpRequest, membership: Membership, fmt: str
) -> HttpResponse:
    organization = membership.organization
    data = selectors.organization_export_data(organization=organization)
    audit.info("user %s exported organisation %s (%s)", request.user.pk, organization.pk, fmt)
    if fmt == "json":
        body, content_type, suffix = export_json(data), "application/json", "json"
    else:
        body, content_type, suffix = export_csv_zip(data), "application/zip", "csv.zip"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="organisation-{organization.pk}-export.{suffix}"'
    )
    response["Cache-Control"] = "no-store"
    return response


@admin_view
@require_http_methods(["GET", "POST"])
def organization_close_view(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    form = CloseAccountForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_close(organization=organization, by=request.user)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            logout(request)
            messages.success(
                request,
                _("The account is closed and its personal data erased. Thank you for taking part."),
            )
            return redirect("home")
    return render(
        request,
        "listings/organization_close.html",
        {"membership": membership, "organization": organization, "form": form},
    )


# --- facilitators: organisations awaiting verification -----------------------------------------


@login_required
def organization_pending_view(request: HttpRequest) -> HttpResponse:
    pending = selectors.organization_list_pending_for_facilitator(user=request.user)
    if pending is None:
        raise Http404
    return render(request, "listings/organization_pending.html", {"organizations": pending})


@login_required
@require_POST
def organization_verify_view(request: HttpRequest, pk: int) -> HttpResponse:
    organization = selectors.organization_get_pending_for_facilitator(user=request.user, pk=pk)
    if organization is None:
        raise Http404
    try:
        services.organization_verify(organization=organization, by=request.user)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("%(name)s is verified; its listings can now be published.")
            % {"name": organization.name},
        )
    return redirect("listings:organization-pending")
