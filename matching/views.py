from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from listings.importing import ImportRejectedError
from symbiosis.exceptions import ApplicationError

from . import selectors
from .charts import STAGE_COLOURS
from .dashboard import impact_dashboard, map_data_for_facilitator, stage_history_chart
from .forms import MatchStageForm, ShipmentQuestionForm, WorkshopUploadForm
from .models import MatchingRun, Stage
from .portal import facilitator_required, regions_for_request
from .services import matching_run_start
from .shipments import ShipmentInputError, shipment_question_answer
from .workflow import NEXT_STAGES, identities_disclosed, match_set_stage
from .workshops import (
    workshop_create_from_upload,
    workshop_get_for_facilitator,
    workshop_list_for_facilitator,
    workshop_matches,
)


@login_required
def shipment_procedure_view(request: HttpRequest) -> HttpResponse:
    """Ask what a shipment would legally require: the same answer as the command and the API."""
    form = ShipmentQuestionForm(request.GET or None)
    answer = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            answer = shipment_question_answer(
                origin=data["origin"].code,
                destination=data["destination"].code,
                status=data["status"],
                operation=data["operation"].strip().upper(),
                low_code=data["low_code"] or None,
                evidence=data["evidence"],
                list_class=data["list_class"] or None,
                basel_code=data["basel_code"] or None,
                mixture=data["mixture"],
                contaminated=data["contaminated"],
                pops=data["pops"],
                date=data["date"],
            )
        except ShipmentInputError as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
    return render(request, "matching/shipment_procedure.html", {"form": form, "answer": answer})


# --- the facilitator portal -----------------------------------------------------------------
# Every view below is behind @facilitator_required (anonymous: login; no region: 404) and reads
# through a selector scoped to the user's regions; an object outside them is a 404.


@facilitator_required
@require_GET
def queue_view(request: HttpRequest) -> HttpResponse:
    """The ranked queue of the facilitator's regions, filtered, one keyset page at a time."""
    regions = regions_for_request(request)
    status = 200
    try:
        page = selectors.match_queue_page_for_facilitator(
            user=request.user, regions=regions, params=request.GET, after=request.GET.get("after")
        )
    except selectors.QueueCursorInvalidError as exc:
        messages.error(request, exc.message)
        page = selectors.match_queue_page_for_facilitator(
            user=request.user, regions=regions, params=request.GET
        )
        status = 400
    params = request.GET.copy()
    params.pop("after", None)
    next_url = None
    if page.next_cursor:
        params["after"] = page.next_cursor
        next_url = f"?{params.urlencode()}"
    params.pop("after", None)
    return render(
        request,
        "matching/facilitate/queue.html",
        {
            "page": page,
            "filter": page.filterset,
            "next_url": next_url,
            "first_url": f"?{params.urlencode()}" if request.GET.get("after") else None,
            "reminder_days": settings.MATCHING_REMINDER_DAYS,
        },
        status=status,
    )


def _per_year(per_tonne: float | None, tonnes: float | None) -> float | None:
    return None if per_tonne is None or tonnes is None else per_tonne * tonnes


@facilitator_required
@require_http_methods(["GET", "POST"])
def match_detail_view(request: HttpRequest, match_id: int) -> HttpResponse:
    """Everything a facilitator needs to judge one match, and the moves it can make next."""
    match = selectors.match_detail_for_facilitator(
        user=request.user, regions=regions_for_request(request), match_id=match_id
    )
    if match is None:
        raise Http404
    if request.method == "POST":
        form = MatchStageForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                match_set_stage(
                    match=match,
                    user=request.user,
                    to_stage=data["to_stage"],
                    note=data["note"],
                    tonnes_per_year=data["tonnes_per_year"],
                    eur_saved_per_year=data["eur_saved_per_year"],
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    _("The match is now %(stage)s.") % {"stage": Stage(data["to_stage"]).label},
                )
                return redirect("facilitate:match-detail", match_id=match.pk)
        else:
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
    tonnes = match.implemented_tonnes_per_year or match.tonnes_per_year
    return render(
        request,
        "matching/facilitate/match_detail.html",
        {
            "match": match,
            "procedure": selectors.match_legal_procedure(match),
            "next_stages": [
                Stage(s) for s in Stage.values if s in NEXT_STAGES.get(match.stage, ())
            ],
            "tonnes": tonnes,
            "cost_per_year": _per_year(match.cost_eur_per_tonne, tonnes),
            "co2_tonnes_per_year": _per_year(match.co2_kg_per_tonne, tonnes and tonnes / 1000),
            "components": [
                (_("Material"), match.material_score),
                (_("Quantity"), match.quantity_score),
                (_("Distance and logistics"), match.distance_score),
                (_("Legal"), match.legal_score),
                (_("Timing"), match.timing_score),
            ],
            "disclosed": identities_disclosed(match),
        },
    )


@facilitator_required
@require_GET
def offer_prospects_view(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = selectors.offer_get_for_facilitator(
        regions=regions_for_request(request), offer_id=offer_id
    )
    if offer is None:
        raise Http404
    return render(
        request,
        "matching/facilitate/prospects.html",
        {"offer": offer, "prospects": selectors.prospect_list_for_offer(offer=offer)},
    )


@facilitator_required
@require_GET
def map_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "matching/facilitate/map.html",
        {
            "stages": [(value, label, STAGE_COLOURS[value]) for value, label in Stage.choices],
            "tiles_url": settings.MATCHING_MAP_TILES_URL,
        },
    )


@facilitator_required
@require_GET
def map_data_view(request: HttpRequest) -> JsonResponse:
    data = map_data_for_facilitator(
        regions=regions_for_request(request), stage=request.GET.get("stage") or None
    )
    pattern = reverse("facilitate:match-detail", kwargs={"match_id": 0})
    data["match_url"] = pattern.replace("/0/", "/{id}/")
    return JsonResponse(data)


@facilitator_required
@require_GET
def impact_view(request: HttpRequest) -> HttpResponse:
    """The impact dashboard of one of the facilitator's regions (``?region=<code>``)."""
    regions = regions_for_request(request)
    code = request.GET.get("region") or regions[0].code
    region = next((r for r in regions if r.code == code), None)
    if region is None:
        raise Http404
    return render(
        request,
        "matching/facilitate/impact.html",
        {
            "regions": regions,
            "region": region,
            "dashboard": impact_dashboard(region=region),
            "history": stage_history_chart(region=region),
        },
    )


@facilitator_required
@require_http_methods(["GET", "POST"])
def runs_view(request: HttpRequest) -> HttpResponse:
    """The recent full rematches, and the "rematch now" button."""
    if request.method == "POST":
        active = selectors.matching_run_active()
        if active is not None:
            messages.info(request, _("A full rematch is already running."))
            return redirect("facilitate:run-detail", run_id=active.pk)
        run = matching_run_start(started_by=request.user)
        return redirect("facilitate:run-detail", run_id=run.pk)
    return render(
        request,
        "matching/facilitate/runs.html",
        {"runs": selectors.matching_run_list(), "active": selectors.matching_run_active()},
    )


@facilitator_required
@require_GET
def run_detail_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.matching_run_get(run_id=run_id)
    if run is None:
        raise Http404
    return render(request, "matching/facilitate/run_detail.html", {"run": run})


@facilitator_required
@require_GET
def run_progress_view(request: HttpRequest, run_id: int) -> JsonResponse:
    run = selectors.matching_run_get(run_id=run_id)
    if run is None:
        raise Http404
    return JsonResponse(
        {
            "id": run.pk,
            "status": run.status,
            "done_chunks": run.done_chunks,
            "total_chunks": run.total_chunks,
            "progress": round(run.progress, 4),
            "matches_written": run.matches_written,
            "finished": run.status in (MatchingRun.Status.DONE, MatchingRun.Status.FAILED),
        },
        headers={"Cache-Control": "no-store"},
    )


@facilitator_required
@require_GET
def workshops_view(request: HttpRequest) -> HttpResponse:
    workshops = workshop_list_for_facilitator(regions=regions_for_request(request))
    return render(request, "matching/facilitate/workshops.html", {"workshops": workshops[:100]})


@facilitator_required
@require_http_methods(["GET", "POST"])
def workshop_new_view(request: HttpRequest) -> HttpResponse:
    regions = regions_for_request(request)
    form = WorkshopUploadForm(request.POST or None, request.FILES or None, regions=regions)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = workshop_create_from_upload(
                facilitator=request.user,
                name=data["name"],
                date=data["date"],
                region=data["region"],
                data=data["cards"].read(),
                filename=data["cards"].name,
            )
        except ImportRejectedError as exc:
            form.add_error("cards", exc.message)
            errors = [str(e) for e in exc.errors]
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("Imported (%(summary)s); %(n)s listing(s) matched.")
                % {"summary": result.summary, "n": result.listings_matched},
            )
            return redirect("facilitate:workshop-detail", workshop_id=result.workshop.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "matching/facilitate/workshop_new.html",
        {"form": form, "row_errors": errors},
        status=status,
    )


@facilitator_required
@require_GET
def workshop_detail_view(request: HttpRequest, workshop_id: int) -> HttpResponse:
    workshop = workshop_get_for_facilitator(
        regions=regions_for_request(request), workshop_id=workshop_id
    )
    if workshop is None:
        raise Http404
    return render(
        request,
        "matching/facilitate/workshop_detail.html",
        {"workshop": workshop, "matches": list(workshop_matches(workshop=workshop)[:500])},
    )
