"""What a pair needs from outside the pure score: the route, the legal procedure and the text
similarity, computed for many pairs at once. Pure: imports no Django.

The legal procedure depends on few things (the offer's status and code, the operation, the two
countries), so it is computed once per distinct combination and looked up for every pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from harbors.logistics import Router, haversine_km_pairs, mode_from_code

from .legal import (
    Evidence,
    LegalInputError,
    ListClass,
    Procedure,
    ShipmentProcedure,
    ShipmentQuestion,
    WasteStatus,
    legal_score,
    shipment_procedure,
)

# A demand that names no operation is assumed to recover the material (R5, recycling of other
# inorganic materials, or R3 for organics); the assumption is flagged on the match.
DEFAULT_OPERATION = "R5"
ORGANIC_CHAPTERS = frozenset({"02", "03", "04", "20"})

# A pipe follows roads and plots about as a truck does (the road detour factor, DESIGN.md).
PIPE_DETOUR = 1.25

PROCEDURE_LABEL = {
    Procedure.NONE: "no shipment procedure",
    Procedure.GENERAL_INFORMATION: "green-listed: Annex VII document",
    Procedure.NOTIFICATION: "prior notification and consent",
    Procedure.NOTIFICATION_DISPOSAL: "notification for disposal",
    Procedure.PROHIBITED: "shipment prohibited",
}


@dataclass(frozen=True, slots=True)
class OfferLegal:
    country: str
    waste_status: str = "unknown"
    evidence: str = "none"
    low_code: str = ""
    hazardous: bool = False
    mirror: bool = False
    list_class: str = ""
    basel_code: str = ""
    mixture: bool = False
    contaminated: bool = False
    pops: bool = False
    resource_type: str = "material"


@dataclass(frozen=True, slots=True)
class DemandLegal:
    country: str
    operation: str = ""


@dataclass(frozen=True, slots=True)
class LegalOutcome:
    procedure: Procedure
    score: float
    label: str
    flags: tuple[str, ...]


class LegalOracle:
    """Memoised legal procedure per (offer legal facts, demand legal facts)."""

    def __init__(self, *, shipment_date: date) -> None:
        self._date = shipment_date
        self._cache: dict[tuple[OfferLegal, DemandLegal], LegalOutcome] = {}

    def outcome(self, offer: OfferLegal, demand: DemandLegal) -> LegalOutcome:
        key = (offer, demand)
        if key not in self._cache:
            self._cache[key] = self._decide(offer, demand)
        return self._cache[key]

    def procedure(self, offer: OfferLegal, demand: DemandLegal) -> ShipmentProcedure | None:
        """The full answer (documents, articles) for a match page; None for energy and water."""
        question = self._question(offer, demand)
        return None if question is None else shipment_procedure(question)

    def _question(self, offer: OfferLegal, demand: DemandLegal) -> ShipmentQuestion | None:
        if offer.resource_type != "material":
            return None  # heat, steam and water pipes are not waste shipments
        operation = demand.operation or (
            "R3" if offer.low_code[:2] in ORGANIC_CHAPTERS else DEFAULT_OPERATION
        )
        return ShipmentQuestion(
            origin=offer.country,
            destination=demand.country,
            waste_status=WasteStatus(offer.waste_status),
            operation=operation,
            low_code=offer.low_code or None,
            hazardous=offer.hazardous,
            mirror=offer.mirror,
            evidence=Evidence(offer.evidence),
            list_class=ListClass(offer.list_class) if offer.list_class else None,
            basel_code=offer.basel_code or None,
            mixture=offer.mixture,
            contaminated=offer.contaminated,
            pops=offer.pops,
            date=self._date,
        )

    def _decide(self, offer: OfferLegal, demand: DemandLegal) -> LegalOutcome:
        route = f"{offer.country}→{demand.country}"
        question = self._question(offer, demand)
        if question is None:
            return LegalOutcome(
                Procedure.NONE, 1.0, f"{route} {offer.resource_type}: no waste shipment", ()
            )
        try:
            answer = shipment_procedure(question)
        except LegalInputError as exc:
            # Unknown facts are not a veto: a facilitator checks them. Score as notification.
            return LegalOutcome(
                Procedure.NOTIFICATION,
                legal_score(Procedure.NOTIFICATION),
                f"{route}: legal check incomplete ({exc.field})",
                ("legal_check_incomplete",),
            )
        flags = tuple(str(f) for f in answer.flags)
        if not demand.operation:
            flags += ("operation_assumed",)
        label = f"{route} {PROCEDURE_LABEL[answer.procedure]}"
        if offer.country == demand.country:
            label = f"{route} domestic: no shipment procedure"
        return LegalOutcome(answer.procedure, legal_score(answer.procedure), label, flags)

    def outcomes(
        self,
        offers: list[OfferLegal],
        demands: list[DemandLegal],
        oi: npt.NDArray[np.int64],
        dj: npt.NDArray[np.int64],
    ) -> list[LegalOutcome]:
        return [
            self.outcome(offers[i], demands[j])
            for i, j in zip(oi.tolist(), dj.tolist(), strict=True)
        ]


@dataclass(frozen=True, slots=True)
class RouteFacts:
    km: npt.NDArray[np.float64]
    mode: list[str]
    eur_per_tonne: npt.NDArray[np.float64]
    kg_co2e_per_tonne: npt.NDArray[np.float64]


def routes_for_pairs(
    router: Router,
    offer_lat: npt.NDArray[np.float64],
    offer_lon: npt.NDArray[np.float64],
    demand_lat: npt.NDArray[np.float64],
    demand_lon: npt.NDArray[np.float64],
    resource_type: str,
) -> RouteFacts:
    """Best route per pair. Heat, steam and water go by pipe, so their distance is the
    great-circle distance with the road detour factor and no transport mode choice."""
    if resource_type != "material":
        km = haversine_km_pairs(offer_lat, offer_lon, demand_lat, demand_lon) * PIPE_DETOUR
        zeros = np.zeros_like(km)
        return RouteFacts(
            km=km, mode=["pipe"] * len(km), eur_per_tonne=zeros, kg_co2e_per_tonne=zeros
        )
    matrix = router.best_route_pairs(offer_lat, offer_lon, demand_lat, demand_lon)
    return RouteFacts(
        km=matrix.km,
        mode=[str(mode_from_code(int(code))) for code in matrix.mode],
        eur_per_tonne=matrix.eur_per_tonne,
        kg_co2e_per_tonne=matrix.kg_co2e_per_tonne,
    )
