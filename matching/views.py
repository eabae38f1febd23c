from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .forms import ShipmentQuestionForm
from .shipments import ShipmentInputError, shipment_question_answer


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
