"""Every write to matches, prospects and matching runs."""

from __future__ import annotations

from django.db import transaction

from listings.models import Demand, Offer

from .models import Match, Stage


@transaction.atomic
def matches_discard_proposed_for_listing(*, listing: Offer | Demand) -> int:
    """Delete the listing's matches nobody has reviewed; reviewed matches stay for the record."""
    field = "offer" if isinstance(listing, Offer) else "demand"
    deleted, _ = Match.objects.filter(**{field: listing}, stage=Stage.PROPOSED).delete()
    return deleted
