import time
from pathlib import Path
import pytest
from listings.importing import import_listings
from listings.models import Demand, Offer
from matching.evaluation import *
from matching.models import Prospect, Match
from matching.prospects import prospects_refresh_all
from matching.services import matches_refresh_for_listing

pytestmark = [pytest.mark.django_db]
Q = Path("matching/data/quality_set")


def test_debug(django_assert_max_num_queries):
    t = time.time()
    import_listings(data=(Q / "listings.csv").read_bytes(), filename="listings.csv", actor=None)
    print("import", time.time() - t)
    t = time.time()
    for model, kind in ((Offer, "offer"), (Demand, "demand")):
        for pk, version in model.objects.published().order_by("id").values_list("id", "version"):
            matches_refresh_for_listing(kind=kind, listing_id=pk, version=version)
    print("match", time.time() - t)
    t = time.time()
    import matching.prospects as mp

    for variant in ("design", "brief"):
        if variant == "brief":
            mp.DEFAULT_MAX_DISTANCE_KM = {"material": 1e9, "energy": 1e9, "water": 1e9}
            mp.DISTANCE_SCALE_KM = {"material": 150.0, "energy": 150.0, "water": 150.0}
        n = prospects_refresh_all()
        print(variant, n, [r.lines() for r in evaluate_file(Q / "labels_sectors.csv")])
    return
    kind, labels = read_label_file(Q / "labels_sectors.csv")
    offers = ids_by_ref(Offer, (o for o, _ in labels))
    ranked = ranked_sectors(offers.values())
    for o, nace in labels:
        r = sector_rank(ranked[offers[o]], nace)
        if r != 1:
            print("SECTOR", o, nace, r, ranked[offers[o]][:6])
    kind, labels = read_label_file(Q / "labels_matches.csv")
    offers = ids_by_ref(Offer, (o for o, _ in labels))
    dem = ids_by_ref(Demand, (d for _, d in labels))
    rd = ranked_demands(offers.values())
    inv = {v: k for k, v in dem.items()}
    for o, d in labels:
        r = rank_of(rd[offers[o]], dem[d])
        if r != 1:
            print("MATCH", o, d, r, [inv.get(x, x) for x in rd[offers[o]][:6]])
    for p in Prospect.objects.filter(offer__ref__in=["QS-O01", "QS-O02", "QS-O04"]).select_related(
        "offer", "organization"
    )[:30]:
        print(p.offer.ref, p.rank, round(p.score, 3), p.organization.name, "|", p.explanation)
