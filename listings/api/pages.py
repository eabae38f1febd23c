"""The portal page where a user creates and revokes partner API tokens (/account/api-tokens/).

An organisation's administrator makes tokens for the organisation (read, write); a facilitator
makes tokens for themself (read, facilitate). The secret is shown once, in the answer to the
POST that made it, and never again: only its digest is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from listings import services
from listings.models import ApiToken
from listings.selectors import (
    api_token_get_for_user,
    api_token_list_for_user,
    organization_list_administered,
)
from matching.selectors import facilitator_region_ids
from symbiosis.exceptions import ApplicationError

FACILITATOR_OWNER = "facilitator"


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Say what uses it, e.g. “ERP sync”.")
    )
    owner = forms.ChoiceField(label=_("For"))
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Organisations: read and write. Facilitators: read and facilitate."),
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=730,
        required=False,
        help_text=_("Empty: until revoked."),
    )

    def __init__(self, *args: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owners


def _owners(user: Any) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    organizations = {f"org-{o.pk}": o for o in organization_list_administered(user=user)}
    choices = [(key, str(o)) for key, o in organizations.items()]
    if facilitator_region_ids(user=user):
        choices.append((FACILITATOR_OWNER, str(_("Me, as a facilitator"))))
    return choices, organizations


@login_required
@require_http_methods(["GET", "POST"])
def api_token_page(request: HttpRequest) -> HttpResponse:
    owners, organizations = _owners(request.user)
    form = ApiTokenForm(owners=owners)
    issued = None
    if request.method == "POST" and request.POST.get("action") == "revoke":
        token_id = request.POST.get("token", "")
        token = (
            api_token_get_for_user(user=request.user, token_id=int(token_id))
            if token_id.isdigit() and len(token_id) < 19
            else None
        )
        if token is None:
            raise Http404
        services.api_token_revoke(token=token, by=request.user)
        messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
        return redirect("api-tokens")
    if request.method == "POST":
        form = ApiTokenForm(request.POST, owners=owners)
        if form.is_valid():
            data = form.cleaned_data
            owner = data["owner"]
            days = data["expires_in_days"]
            try:
                issued = services.api_token_create(
                    user=request.user,
                    name=data["name"],
                    kind=(
                        ApiToken.Kind.FACILITATOR
                        if owner == FACILITATOR_OWNER
                        else ApiToken.Kind.ORGANIZATION
                    ),
                    organization=organizations.get(owner),
                    scopes=data["scopes"],
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                )
            except ApplicationError as exc:
                field = exc.extra.get("field")
                form.add_error(field if field in form.fields else None, exc.message)
            else:
                form = ApiTokenForm(owners=owners)
    response = render(
        request,
        "api/api_tokens.html",
        {
            "form": form,
            "tokens": api_token_list_for_user(user=request.user),
            "issued": issued,
            "can_create": bool(owners),
            "now": timezone.now(),
        },
    )
    response["Cache-Control"] = "no-store"  # the page may carry a secret
    return response
