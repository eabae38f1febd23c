"""A believable, deterministic industrial-symbiosis network for the demo (`manage.py seed_demo`).

Every company here is FICTIONAL. Names, people, phone numbers and prices are invented; the
places are real industrial zones of the North-West European harbour regions (approximate, within
a few km) and the industries, NACE Rev. 2 classes, List of Waste codes, quantities and recovery
operations are what such plants typically have. `random.Random(seed)` only varies quantities,
start dates and coordinates by a little, so the same seed always gives the same data.

Demo logins (password `symbiosis-demo` for all but `admin`):

| username         | password          | who                                                 |
|------------------|-------------------|-----------------------------------------------------|
| `admin`          | `symbiosis-admin` | staff superuser (Django admin, reference data)      |
| `facilitator`    | `symbiosis-demo`  | facilitator: Rotterdam-Moerdijk, Antwerp-Bruges,    |
|                  |                   | North Sea Port                                      |
| `facilitator.fr` | `symbiosis-demo`  | facilitator: Dunkirk, HAROPA                        |
| `facilitator.de` | `symbiosis-demo`  | facilitator: Hamburg, Bremen, Duisburg              |
| `anna.nl`        | `symbiosis-demo`  | admin of Maasvlakte Energie BV (power, Rotterdam)   |
| `bruno.be`       | `symbiosis-demo`  | admin of Scheldemond Cement NV (cement, Antwerp)    |
| `claire.fr`      | `symbiosis-demo`  | admin of Aciéries de la Côte d'Opale SA (steel,     |
|                  |                   | Dunkirk)                                            |
| `dieter.de`      | `symbiosis-demo`  | admin of Rhein-Ruhr Stahl GmbH (steel, Duisburg)    |

Deliberate synergies: fly ash and GBS to cement, FGD gypsum to plasterboard, spent grain and
whey to feed, waste heat to greenhouses and district heating, CO2 to greenhouses and breweries,
steel slag and IBA to road building, UCO to biodiesel, glass cullet to container glass, spent
solvents to solvent recovery, zinc-bearing steel dusts to a Waelz plant, spent FCC catalyst and
spent pot lining to cement kilns; across borders NL↔BE, BE→FR, FR→BE, DE→NL, GB→NL, GB→BE,
CH→DE, DE→CH, LU→DE and FR→NL.
"""

from __future__ import annotations

import datetime
import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction

from harbors.models import Country, HarborRegion

from .models import (
    Demand,
    MaterialCategory,
    Membership,
    NaceCode,
    Offer,
    Operation,
    Organization,
    ResourceType,
    Site,
    WasteCode,
)
from .services import (
    listing_create,
    membership_add,
    organization_create,
    organization_verify,
    site_create,
)

REF_PREFIX = "DEMO-"
DEMO_EPOCH = datetime.date(2026, 1, 1)
DEMO_PASSWORD = "symbiosis-demo"  # noqa: S105 -- published demo login, not a secret
ADMIN_PASSWORD = "symbiosis-admin"  # noqa: S105 -- published demo login, not a secret

# username -> (first name, last name, harbour regions facilitated)
FACILITATORS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "facilitator": ("Floor", "Hermans", ("rotterdam-moerdijk", "antwerp-bruges", "north-sea-port")),
    "facilitator.fr": ("Hélène", "Delcourt", ("dunkirk", "haropa")),
    "facilitator.de": ("Jens", "Petersen", ("hamburg", "bremen-ports", "duisburg")),
}
COMPANY_USERS: dict[str, tuple[str, str]] = {
    "anna.nl": ("Anna", "de Groot"),
    "bruno.be": ("Bruno", "Lambrechts"),
    "claire.fr": ("Claire", "Martin"),
    "dieter.de": ("Dieter", "Schneider"),
}
DEMO_USERNAMES: tuple[str, ...] = ("admin", *FACILITATORS, *COMPANY_USERS)

PHONE_PREFIX = {
    "BE": "+32",
    "NL": "+31",
    "FR": "+33",
    "DE": "+49",
    "IE": "+353",
    "GB": "+44",
    "CH": "+41",
    "LU": "+352",
}
ENERGY_FORMS = {"energy": Offer.PhysicalForm.HEAT, "water": Offer.PhysicalForm.LIQUID}
GAS_CATEGORIES = frozenset({"co2", "hydrogen", "process-gas", "biogas", "gases"})
EVIDENCE_FOR_STATUS = {
    "waste": Offer.Evidence.NONE,
    "by_product": Offer.Evidence.NATIONAL_ORIGIN,
    "end_of_waste": Offer.Evidence.EU_REGULATION,
    "product": Offer.Evidence.SELF_DECLARED,
    "unknown": Offer.Evidence.NONE,
}


@dataclass(frozen=True, slots=True)
class SiteSpec:
    name: str
    city: str
    address: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class OfferSpec:
    title: str
    material: str  # a six-digit List of Waste code, or a material-category slug
    quantity: float
    unit: str
    frequency: str
    waste_status: str
    description: str
    category: str = ""  # overrides the category derived from the code
    evidence: str = ""
    form: str = ""
    price: str | None = None
    can_deliver: bool = False
    list_class: str = ""
    basel_code: str = ""
    site: int = 0
    start: int = 0  # days after DEMO_EPOCH
    months: int | None = None  # how long it is available; None: open-ended


@dataclass(frozen=True, slots=True)
class DemandSpec:
    title: str
    # List of Waste codes and material-category slugs; the first is the primary one
    accepts: tuple[str, ...]
    quantity: float
    unit: str
    frequency: str
    description: str
    max_km: int | None = None
    operation: str = ""
    hazardous: bool = False
    min_share: float = 0.1
    site: int = 0
    start: int = 0
    months: int | None = None


@dataclass(frozen=True, slots=True)
class OrgSpec:
    name: str
    country: str
    nace: str
    contact: str
    sites: tuple[SiteSpec, ...]
    listings: tuple[OfferSpec | DemandSpec, ...]
    user: str = ""  # a demo login that administers this organisation


@dataclass(frozen=True, slots=True)
class DemoSummary:
    created: bool
    organizations: int
    countries: int
    sites: int
    offers: int
    demands: int
    users: tuple[str, ...]

    def lines(self) -> list[str]:
        head = "Demo data created" if self.created else "Demo data already present; nothing done"
        return [
            f"{head}: {self.organizations} organisations in {self.countries} countries, "
            f"{self.sites} sites, {self.offers} offers, {self.demands} demands.",
            f"Demo users: {', '.join(self.users)} (password {DEMO_PASSWORD!r}, "
            f"admin: {ADMIN_PASSWORD!r}).",
        ]


def _o(
    title: str,
    material: str,
    quantity: float,
    unit: str,
    frequency: str,
    waste_status: str,
    description: str,
    **kwargs: Any,
) -> OfferSpec:
    return OfferSpec(
        title, material, quantity, unit, frequency, waste_status, description, **kwargs
    )


def _d(
    title: str,
    accepts: tuple[str, ...],
    quantity: float,
    unit: str,
    frequency: str,
    description: str,
    **kwargs: Any,
) -> DemandSpec:
    return DemandSpec(title, accepts, quantity, unit, frequency, description, **kwargs)


def _site(name: str, city: str, address: str, lat: float, lon: float) -> SiteSpec:
    return SiteSpec(name, city, address, lat, lon)


# fmt: off
ORGANIZATIONS: tuple[OrgSpec, ...] = (
    # ---------------------------------------------------------------- Rotterdam and Moerdijk (NL)
    OrgSpec(
        "Maasvlakte Energie BV", "NL", "35.11", "Anna de Groot",
        (_site("Centrale Maasvlakte", "Rotterdam", "Maasvlakteweg 2", 51.958, 4.025),),
        (
            _o("Coal fly ash, EN 450 quality", "100102", 40000, "t", "year", "by_product",
               "Dry fly ash from pulverised coal with biomass co-firing, collected by the "
               "electrostatic precipitators. Meets EN 450-1 (category A, fineness N), loss on "
               "ignition below 5%. Stored in two silos; loaded into bulk tankers or by barge from "
               "our own quay. Less volume in summer when the unit runs part-load.",
               form="powder", price="-3.50", can_deliver=True, list_class="green",
               basel_code="B2050"),
            _o("FGD gypsum from the wet limestone scrubber", "100105", 25000, "t", "year",
               "by_product",
               "Calcium sulphate dihydrate from flue-gas desulphurisation, above 95% CaSO4·2H2O, "
               "about 10% free moisture, chlorides below 100 ppm. White and consistent. Ship "
               "loading at our quay; suits plasterboard or use as set retarder in cement.",
               price="2.00", can_deliver=True, list_class="green", basel_code="B2040"),
            _o("Boiler bottom ash 0-40 mm", "100101", 8000, "t", "year", "waste",
               "Quenched bottom ash and boiler slag, crushed to 0-40 mm. Leaching tests to the "
               "Dutch Soil Quality Decree available. Used so far as filler in road foundations.",
               price="-8.00"),
            _o("Low-temperature waste heat, 60-90 °C", "waste-heat-low", 15, "MWh", "continuous",
               "product",
               "Up to 15 MW thermal at 60-90 °C from cooling water and flue-gas condensation, "
               "available all year. Connection point at the site fence; a transport pipeline of "
               "up to about 15 km is realistic (glasshouses, district heating).",
               price="12.00"),
            _d("Clean waste wood chips for co-firing", ("191207", "200138", "030105",
               "waste-wood", "wood-chips"), 60000, "t", "year",
               "A- and B-grade recovered wood, chipped below 50 mm, moisture below 30%, free of "
               "treated (creosote, CCA) wood. Delivery by barge or truck to the Maasvlakte quay.",
               max_km=300, operation="R1", min_share=0.05),
            _d("Treated wastewater as cooling-tower make-up", ("treated-wastewater",
               "process-water"), 400, "m3", "day",
               "Make-up water for the hybrid cooling tower. Conductivity below 1,000 µS/cm, "
               "suspended solids below 10 mg/l. Pipeline or ditch connection.",
               max_km=30, min_share=0.25),
        ),
        user="anna.nl",
    ),
    OrgSpec(
        "Botlek Chemie BV", "NL", "20.14", "Sanne Visser",
        (_site("Fabriek Botlek", "Rotterdam", "Welplaatweg 120", 51.875, 4.295),),
        (
            _o("Spent solvent mixture (acetone, methanol, toluene)", "070104", 1200, "t", "year",
               "waste",
               "Solvent mixture from reactor cleaning and product washing, roughly 40% acetone, "
               "35% methanol, 15% toluene, water balance. Halogen-free (< 0.1% Cl). Delivered in "
               "ISO tanks; analysis per batch. Suitable for distillation.",
               form="liquid", price="-120.00", list_class="amber", basel_code="A3140"),
            _o("Surplus low-pressure steam, 4 bar", "steam", 8, "MWh", "continuous", "product",
               "Steam at 4 bar and 160 °C from exothermic oxidation reactors. Only within the "
               "Botlek pipe corridor (a few km).",
               price="22.00"),
            _o("Dilute hydrochloric acid, 18%", "060102", 3000, "t", "year", "waste",
               "Hydrochloric acid from off-gas scrubbing, 16-19% HCl, traces of organics "
               "(TOC < 200 mg/l). Suitable for neutralisation or iron chloride production.",
               form="liquid", price="-45.00", list_class="amber"),
            _d("Demineralised process water", ("process-water", "treated-wastewater"), 600, "m3",
               "day",
               "Boiler feed and process water, or polished effluent that we can demineralise. "
               "Steady supply, pipeline preferred.",
               max_km=40, min_share=0.2),
        ),
    ),
    OrgSpec(
        "Europoort Raffinaderij BV", "NL", "19.20", "Mark Jansen",
        (_site("Raffinaderij Europoort", "Rotterdam", "Moezelweg 151", 51.930, 4.175),),
        (
            _o("Pure CO2 from the hydrogen unit", "co2", 120000, "t", "year", "product",
               "99.9% CO2 captured at the steam-methane reformer. Fed into the regional CO2 "
               "pipeline to the Westland and Oostland glasshouses; can also be liquefied for "
               "trucks. Most demand is from April to October.",
               price="15.00"),
            _o("Spent FCC catalyst (equilibrium catalyst)", "160804", 1500, "t", "year", "waste",
               "Zeolite-based aluminosilicate fines from the fluid catalytic cracker, about 45% "
               "Al2O3, vanadium and nickel below hazardous thresholds (analysis available). "
               "Good alumina source for cement kilns. Big bags or silo truck.",
               form="powder", price="-60.00", list_class="green", basel_code="GC050"),
            _o("Residual heat, 70-95 °C", "waste-heat-low", 25, "MWh", "continuous", "product",
               "Heat recovered from product coolers via a hot-water loop at 70-95 °C. Up to 25 MW "
               "thermal all year; we look for glasshouses or a heat network nearby.",
               price="10.00"),
            _o("Liquid Claus sulphur", "sulphur", 60000, "t", "year", "product",
               "Bright yellow sulphur from the Claus units, purity 99.9%, delivered liquid in "
               "heated tank trucks or barges. REACH registered.",
               form="liquid", price="80.00", can_deliver=True),
            _d("Used cooking oil for co-processing (HVO)", ("200125", "used-cooking-oil",
               "animal-fat"), 20000, "t", "year",
               "UCO and animal fats for co-processing in the hydrotreater. ISCC EU certified "
               "supply chain required; FFA below 15%, water and impurities below 2%.",
               max_km=600, operation="R3", min_share=0.02),
            _d("Low-carbon hydrogen for the hydrotreaters", ("hydrogen",), 10000, "t", "year",
               "By-product or electrolytic hydrogen by pipeline to replace part of the "
               "steam-methane reformer output.",
               max_km=100, min_share=0.05),
        ),
    ),
    OrgSpec(
        "Westland Glastuinbouw Coöperatie U.A.", "NL", "01.13", "Kees van den Berg",
        (
            _site("Tuinderij Naaldwijk", "Naaldwijk", "Dijkweg 45", 51.995, 4.205),
            _site("Tuinderij Maasdijk", "Maasdijk", "Maasdijkseweg 88", 51.960, 4.210),
        ),
        (
            _d("CO2 for crop fertilisation (April-October)", ("co2",), 9000, "t", "year",
               "CO2 for dosing in tomato and cucumber glasshouses, 24 ha in total. Pipeline gas "
               "or liquid CO2 by truck; free of SOx, NOx and ethylene.",
               max_km=100, min_share=0.1),
            _d("Warmte voor kassen: warm water 70 °C", ("waste-heat-low", "hot-water"), 12,
               "MWh", "continuous",
               "Wij zoeken restwarmte voor de tuinderij in Maasdijk: warm water van minimaal "
               "70 °C, aanvoer via een leiding. Vervangt gasgestookte ketels.",
               max_km=15, min_share=0.25, site=1),
            _d("Heat for the Naaldwijk glasshouses", ("waste-heat-low", "hot-water"), 8, "MWh",
               "continuous",
               "Hot water of at least 65 °C for 16 ha of glasshouses, mainly October-April. "
               "Collective heat grid of the cooperative can take it in.",
               max_km=12, min_share=0.25),
            _o("Plant-tissue residues (tomato and cucumber haulm)", "020103", 3500, "t", "year",
               "waste",
               "Stems and leaves cleared at the end of the season (November-December), with "
               "biodegradable clips and string. For composting or digestion.",
               price="-15.00", start=300, months=3),
        ),
    ),
    OrgSpec(
        "Moerdijk Afvalverwerking BV", "NL", "38.21", "Erik Bakker",
        (_site("Energiecentrale Moerdijk", "Moerdijk", "Middenweg 36", 51.690, 4.605),),
        (
            _o("Incinerator bottom ash (IBA), raw", "190112", 120000, "t", "year", "waste",
               "Raw bottom ash from the municipal solid waste incinerator, after magnetic and "
               "eddy-current metal separation. Can be upgraded to IBA granulate for road "
               "foundations under the Dutch Green Deal.",
               price="-12.00", can_deliver=True),
            _o("Ferrous metals from bottom ash", "190102", 9000, "t", "year", "waste",
               "Magnetically separated ferrous fraction, 70-80% Fe, some adhering ash. Bulk, "
               "loaded by wheel loader.",
               price="60.00"),
            _o("High-pressure steam export, 40 bar", "steam", 30, "MWh", "continuous", "product",
               "Steam from the waste-to-energy boilers for the Moerdijk industrial park, "
               "available 8,000 hours a year.",
               price="20.00"),
            _o("Flue-gas cleaning residues (APC)", "190107", 12000, "t", "year", "waste",
               "Air-pollution-control residues from the semi-dry lime scrubber, high in chlorides "
               "and heavy metals. Needs a permitted treatment or backfilling route.",
               form="powder", price="-95.00", list_class="amber"),
            _d("Refuse-derived fuel (RDF/SRF)", ("191210", "191212"), 60000, "t", "year",
               "Baled and wrapped RDF, calorific value 12-18 MJ/kg, for the waste-to-energy "
               "plant. Sea deliveries via the Moerdijk port welcome.",
               max_km=600, operation="R1", min_share=0.05),
            _d("B-grade waste wood for the biomass boiler", ("191207", "170201", "waste-wood"),
               25000, "t", "year",
               "Shredded B-grade wood (painted, glued, no CCA or creosote) below 100 mm.",
               max_km=250, operation="R1", min_share=0.05),
        ),
    ),
    OrgSpec(
        "Rijnmond Gipsplaat BV", "NL", "23.62", "Ingrid Smit",
        (_site("Gipsplaatfabriek Vondelingenplaat", "Rotterdam", "Vondelingenweg 9", 51.893,
               4.352),),
        (
            _d("FGD gypsum for plasterboard", ("100105", "fgd-gypsum"), 80000, "t", "year",
               "Desulphurisation gypsum, purity above 95%, free moisture below 10%, chlorides "
               "below 100 ppm, white. Our own quay on the Nieuwe Maas takes sea and river ships.",
               max_km=600, operation="R5", min_share=0.05),
            _d("Recycled gypsum from plasterboard waste", ("170802", "recycled-gypsum"), 10000,
               "t", "year",
               "Processed gypsum powder from construction plasterboard waste, paper removed "
               "(< 1%), free of nails and screws.",
               max_km=250, operation="R5"),
            _o("Plasterboard production offcuts", "170802", 2500, "t", "year", "waste",
               "Clean offcuts and rejects from our board line. Suitable for gypsum recycling.",
               price="-25.00"),
        ),
    ),
    OrgSpec(
        "Vondelingen Biofuels BV", "NL", "20.59", "Pieter Mulder",
        (_site("Biodieselfabriek Botlek", "Rotterdam", "Torontostraat 19", 51.880, 4.320),),
        (
            _d("Used cooking oil (UCO) for biodiesel", ("200125", "used-cooking-oil"), 40000,
               "t", "year",
               "Collected UCO for FAME production, ISCC EU certified collectors only. FFA below "
               "10%, MIU below 2%. Bulk tank trucks or coasters to our jetty.",
               max_km=600, operation="R3", min_share=0.02),
            _d("Animal fat (category 1 and 2 tallow) for biodiesel", ("animal-fat",), 15000, "t",
               "year",
               "Rendered animal fat under the Animal By-products Regulation, category 1 or 2, "
               "for the pre-treatment unit.",
               max_km=400, min_share=0.05),
            _o("Crude glycerine, 80%", "chemicals", 4000, "t", "year", "by_product",
               "Crude glycerine from transesterification, 80% glycerol, methanol below 0.5%. "
               "Used in digesters, as feed ingredient or refined.",
               evidence="self_declared", form="liquid", price="90.00"),
        ),
    ),
    OrgSpec(
        "Brouwerij De Maasstroom BV", "NL", "11.05", "Joost Hendriks",
        (_site("Brouwerij Dordrecht", "Dordrecht", "Merwedestraat 40", 51.800, 4.655),),
        (
            _o("Bierbostel (brouwersdraf), dagelijks vers", "020799", 300, "t", "week",
               "by_product",
               "Vers bostel, ca. 22% droge stof, dagelijks af te halen met een kipper. Geschikt "
               "als rundveevoer of voor vergisting. Registered feed business operator.",
               category="spent-grain", evidence="self_declared", price="5.00"),
            _o("Spent brewer's yeast", "020799", 40, "t", "week", "by_product",
               "Surplus yeast slurry (12-14% dry matter), cooled. For pig feed or yeast "
               "extract producers.",
               category="spent-grain", evidence="self_declared", form="sludge", price="10.00"),
            _d("Food-grade CO2 for carbonation", ("co2",), 1500, "t", "year",
               "Liquid CO2 to EIGA/ISBT food-grade specification, delivered by tank truck.",
               max_km=250, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Zuid-Hollandse Veevoeders BV", "NL", "10.91", "Marieke Kok",
        (_site("Mengvoederfabriek Moerdijk", "Moerdijk", "Appelweg 12", 51.700, 4.575),),
        (
            _d("Wet by-products for cattle and pig feed", ("020799", "020304", "020702",
               "spent-grain", "fruit-veg-residues"), 800, "t", "week",
               "Brewers' spent grain, distillers' grains, potato peels and other wet food "
               "by-products for liquid and mixed feed. Must be registered as feed material.",
               max_km=150, min_share=0.05),
            _d("Former foodstuffs and bakery residues", ("020601", "bakery-residues"), 5000, "t",
               "year",
               "Unpacked bread, biscuits and pastry for dry feed. Free of packaging and meat.",
               max_km=200),
            _d("Liquid whey and permeate", ("020501", "whey"), 200, "m3", "week",
               "Sweet whey or permeate for liquid pig feed, cooled to below 8 °C.",
               max_km=150, min_share=0.2),
        ),
    ),
    OrgSpec(
        "Rozenburg Solvent Recycling BV", "NL", "38.22", "Gerrit Bosman",
        (_site("Destillatie Rozenburg", "Rotterdam", "Merseyweg 30", 51.905, 4.250),),
        (
            _d("Spent solvents for distillation", ("070104", "070504", "140603", "070304",
               "solvents"), 25000, "t", "year",
               "Halogen-free solvent mixtures for fractional distillation. Notified cross-border "
               "shipments welcome; we hold the permit and handle the DIWASS paperwork.",
               max_km=1500, operation="R2", hazardous=True, min_share=0.005),
            _o("Recovered solvents to specification", "chemicals", 15000, "t", "year", "product",
               "Distilled acetone, methanol, IPA and toluene meeting customer specification. "
               "Returned to the same producer or sold on.",
               form="liquid", price="420.00", can_deliver=True),
            _o("Distillation residues for energy recovery", "070108", 2000, "t", "year", "waste",
               "Still bottoms with high calorific value (> 25 MJ/kg). For cement kilns or "
               "hazardous-waste incineration.",
               form="sludge", price="-160.00", list_class="amber"),
        ),
    ),
    # ------------------------------------------------------------- Amsterdam and IJmuiden (NL)
    OrgSpec(
        "IJmond Staal BV", "NL", "24.10", "Bas Willems",
        (_site("Staalbedrijf Velsen", "Velsen-Noord", "Wenckebachstraat 1", 52.478, 4.605),),
        (
            _o("LD-staalslak 0/32 voor wegfundering (BOF slag)", "100202", 500000, "t", "year",
               "by_product",
               "Basic oxygen furnace slag, weathered and crushed to 0/32 mm. Volume stable "
               "(aged 3 months). Used in road foundations and hydraulic engineering.",
               category="steel-slag", price="1.00", can_deliver=True, list_class="green",
               basel_code="B1210"),
            _o("Granulated blast-furnace slag (GBS)", "blast-furnace-slag", 900000, "t", "year",
               "product",
               "Glassy granulated slag from the blast furnaces, glass content above 95%, REACH "
               "registered. Sea and barge loading at our harbour.",
               price="32.00", can_deliver=True),
            _o("Blast-furnace gas-cleaning sludge, zinc-rich", "100213", 25000, "t", "year",
               "waste",
               "Filter cake from the wet gas-cleaning of the blast furnaces, 3-6% Zn, about 30% "
               "Fe. Suitable for a Waelz kiln or rotary hearth furnace.",
               form="sludge", price="-70.00", list_class="amber"),
            _o("Mill scale from the hot-strip mill", "100210", 15000, "t", "year", "waste",
               "Iron oxide scale, 70% Fe, oil below 1%. For sintering or as iron corrective in "
               "cement.",
               price="20.00"),
            _d("Sorted ferrous scrap (end-of-waste, Reg. 333/2011)", ("170405", "191202",
               "191001", "ferrous-scrap"), 300000, "t", "year",
               "Heavy melting scrap and shredded scrap for the converters. End-of-waste under "
               "Regulation 333/2011 preferred; waste scrap only under our permit.",
               max_km=600, operation="R4", min_share=0.01),
            _d("Cooling and process water from treated effluent", ("treated-wastewater",
               "cooling-water"), 5000, "m3", "day",
               "Polished effluent to replace North Sea Canal water in the closed cooling "
               "circuits of the hot-strip mill.",
               max_km=40, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Amsterdamse Afval Energie BV", "NL", "38.21", "Femke de Vries",
        (_site("Afval Energie Centrale Westpoort", "Amsterdam", "Australiëhavenweg 21", 52.405,
               4.830),),
        (
            _o("IBA granulate 0/31.5, treated", "190112", 200000, "t", "year", "waste",
               "Bottom ash after two months of ageing, washing and metal recovery. Meets the "
               "Dutch Green Deal IBC quality for use in road foundations.",
               price="-3.00", can_deliver=True),
            _o("District heat, 90 °C", "hot-water", 40, "MWh", "continuous", "product",
               "Heat from the waste-to-energy plant into the Amsterdam heat grid; spare "
               "capacity for industrial users in Westpoort and Zaandam.",
               price="18.00"),
            _d("Dewatered sewage sludge for co-incineration", ("190805", "sewage-sludge"), 50000,
               "t", "year",
               "Dewatered municipal sewage sludge, 20-30% dry solids, for the sludge line.",
               max_km=150, operation="R1", min_share=0.05),
            _d("Imported RDF to fill spare furnace capacity", ("191210", "191212"), 80000, "t",
               "year",
               "Baled RDF by sea to our Westpoort quay, 12-16 MJ/kg. Notified shipments from "
               "the UK welcome.",
               max_km=700, operation="R1", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Noordzeekanaal Wegenbouw BV", "NL", "42.11", "Tom Dekker",
        (_site("Werkterrein Westpoort", "Amsterdam", "Afrikahavenweg 8", 52.395, 4.775),),
        (
            _d("Secondary aggregates for road foundations", ("190112", "100202", "170107",
               "101208", "iba", "steel-slag", "concrete-rubble"), 150000, "t", "year",
               "IBA granulate, steel slag, recycled concrete and brick rubble for sub-base and "
               "foundation layers of the A9 and port roads. CE marking or BRL 2506 certificate.",
               max_km=150, operation="R5", min_share=0.01),
            _d("Reclaimed asphalt granulate", ("170302", "reclaimed-asphalt"), 40000, "t", "year",
               "Tar-free reclaimed asphalt (PAK < 75 mg/kg) for hot-mix recycling.",
               max_km=100, operation="R5"),
            _o("Excavated soil, clean (achtergrondwaarde)", "170504", 30000, "t", "once",
               "waste",
               "Clean sandy soil from the port road works; soil quality class 'background "
               "value'. Available once over six months.",
               price="-6.00", start=30, months=6),
        ),
    ),
    OrgSpec(
        "Zaanse Cacao & Specerijen BV", "NL", "10.82", "Lotte Peters",
        (_site("Cacaofabriek Zaandam", "Zaandam", "Lagedijk 60", 52.450, 4.815),),
        (
            _o("Cocoa bean shells", "020304", 12000, "t", "year", "by_product",
               "Roasted cocoa shells from the winnowing line. Used as feed ingredient, mulch or "
               "biomass fuel (17 MJ/kg).",
               category="fruit-veg-residues", evidence="self_declared", price="30.00"),
            _d("Process steam or hot water, 120 °C", ("steam", "hot-water"), 6, "MWh",
               "continuous",
               "Heat for roasting and alkalisation, replacing our gas boilers.",
               max_km=10, min_share=0.3),
        ),
    ),
    OrgSpec(
        "Amstel Vetrecycling BV", "NL", "38.32", "Daan Vos",
        (_site("Verwerking Westpoort", "Amsterdam", "Bornhout 14", 52.393, 4.800),),
        (
            _o("Used cooking oil (UCO), ISCC certified", "200125", 8000, "t", "year", "waste",
               "Gebruikt frituurvet en -olie from restaurants and snack bars in Noord-Holland, "
               "filtered and dewatered. ISCC EU certified collection point.",
               form="liquid", price="650.00", can_deliver=True, list_class="green",
               basel_code="B3065"),
            _o("Grease-trap fat", "190809", 1500, "t", "year", "waste",
               "Edible oil and fat mixture from grease separators. For digestion.",
               form="sludge", price="-40.00"),
        ),
    ),
    OrgSpec(
        "Hollandse Biomethaan BV", "NL", "35.21", "Noor Meijer",
        (_site("Vergister Westpoort", "Amsterdam", "Ruijgoordweg 60", 52.408, 4.795),),
        (
            _d("Organic residues for anaerobic digestion", ("200108", "020304", "020501",
               "020799", "190809", "food-residues"), 60000, "t", "year",
               "Food waste, whey, vegetable residues, spent grain and grease-trap fat for our "
               "digesters. Packaged food accepted (we depackage).",
               max_km=150, operation="R3", min_share=0.005),
            _o("Digestate from food-waste digestion", "190606", 45000, "t", "year", "waste",
               "Liquid digestate, 6% dry matter, rich in N and K. For arable land under a "
               "fertiliser derogation.",
               form="sludge", price="-8.00"),
            _o("Biomethane, grid quality", "biogas", 30000, "MWh", "year", "product",
               "Upgraded biogas injected into the gas grid, with guarantees of origin.",
               price="85.00"),
        ),
    ),
    # ---------------------------------------------------------------- Zeeland, North Sea Port (NL)
    OrgSpec(
        "Braakman Chemie BV", "NL", "20.16", "Jeroen Claes",
        (_site("Fabriek Terneuzen", "Terneuzen", "Herbert H. Dowweg 5", 51.320, 3.815),),
        (
            _d("Treated municipal wastewater as process water", ("treated-wastewater",
               "process-water"), 10000, "m3", "day",
               "Polished effluent for demineralisation and cooling towers. Replaces fresh water "
               "from the Biesbosch in dry summers.",
               max_km=50, min_share=0.1),
            _o("Surplus medium-pressure steam", "steam", 20, "MWh", "continuous", "product",
               "Steam at 15 bar from the cracker waste-heat boilers.",
               price="20.00"),
            _o("Spent nickel hydrogenation catalyst", "160802", 120, "t", "year", "waste",
               "Nickel on alumina, about 20% Ni, in drums under nitrogen. For metal recovery.",
               price="200.00", list_class="amber"),
            _o("Off-spec polyethylene granulate", "070213", 800, "t", "year", "by_product",
               "Transition grades and off-spec granulate, clean and dry, in octabins.",
               evidence="self_declared", price="300.00"),
        ),
    ),
    OrgSpec(
        "Sluiskil Stikstof BV", "NL", "20.15", "Wim de Wit",
        (_site("Kunstmestfabriek Sluiskil", "Sluiskil", "Industrieweg 10", 51.278, 3.838),),
        (
            _o("High-purity CO2 from ammonia synthesis", "co2", 200000, "t", "year", "product",
               "Process CO2 (99.9%) from the ammonia plants, partly liquefied to food grade. "
               "Pipeline to the Terneuzen glasshouses; trucks elsewhere.",
               price="12.00", can_deliver=True),
            _o("Residual heat from the ammonia plant, 80 °C", "waste-heat-low", 40, "MWh",
               "continuous", "product",
               "Low-grade heat at 80 °C; already supplies part of the glasshouse park, more "
               "is available.",
               price="8.00"),
            _d("Low-carbon hydrogen as feedstock", ("hydrogen",), 5000, "t", "year",
               "By-product hydrogen from chlor-alkali electrolysis to replace part of the "
               "natural gas feed. Pipeline delivery.",
               max_km=100, min_share=0.05),
        ),
    ),
    OrgSpec(
        "Zeeuwse Kassen Terneuzen BV", "NL", "01.13", "Lisa Bos",
        (_site("Glastuinbouwgebied Terneuzen", "Terneuzen", "Koegorsstraat 3", 51.300, 3.860),),
        (
            _d("Restwarmte voor glastuinbouw", ("waste-heat-low", "hot-water"), 25, "MWh",
               "continuous",
               "Warm water voor 60 ha kassen (paprika en tomaat). Aansluiting op het bestaande "
               "warmtenet van de Kanaalzone.",
               max_km=10, min_share=0.2),
            _d("CO2 voor de kassen", ("co2",), 6000, "t", "year",
               "CO2 via pijpleiding of vloeibaar per vrachtwagen, april tot oktober.",
               max_km=50, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Waterbedrijf Zeeuws-Vlaanderen NV", "NL", "36.00", "Hans Verhoeven",
        (_site("Zuivering Terneuzen", "Terneuzen", "Schependijk 2", 51.335, 3.845),),
        (
            _o("Polished WWTP effluent, RO-ready", "treated-wastewater", 8000, "m3", "day",
               "product",
               "Effluent from the municipal wastewater treatment plant after sand filtration and "
               "UV, ready for reverse osmosis. Discharged today to the Westerschelde.",
               price="0.35"),
            _o("Drinking-water treatment sludge (iron hydroxide)", "190902", 4000, "t", "year",
               "waste",
               "Iron-rich sludge from groundwater treatment, 25% dry solids. Used as clay "
               "additive in brick making or for phosphate binding.",
               form="sludge", price="-20.00"),
            _o("Dewatered sewage sludge, 25% DS", "190805", 20000, "t", "year", "waste",
               "Digested and dewatered municipal sewage sludge, for co-incineration.",
               form="sludge", price="-65.00"),
            _d("Iron salts as coagulant for phosphate removal", ("salts",), 3000, "t", "year",
               "Ferrous sulphate or ferric chloride solution for the wastewater plants.",
               max_km=400, min_share=0.1),
        ),
    ),
    # --------------------------------------------------------------- Antwerp and Zeebrugge (BE)
    OrgSpec(
        "Scheldemond Cement NV", "BE", "23.51", "Bruno Lambrechts",
        (
            _site("Maalcentrale Kallo", "Beveren-Kallo", "Sint-Antoniusweg 5", 51.260, 4.285),
            _site("Klinkeroven Antoing", "Antoing", "Rue du Coron 2", 50.570, 3.445),
        ),
        (
            _d("Coal fly ash for CEM II/B-V", ("100102", "100117", "fly-ash"), 60000, "t", "year",
               "Siliceous fly ash to EN 450-1 for our blended cements. Delivered by barge to the "
               "Kallo grinding plant; Dutch supply is welcome.",
               max_km=400, operation="R5", min_share=0.05),
            _d("Granulated blast-furnace slag for CEM III", ("blast-furnace-slag",), 250000, "t",
               "year",
               "Granulated slag (glass content > 90%) for slag cement. Sea or barge delivery to "
               "our quay in Kallo.",
               max_km=300, min_share=0.05),
            _d("FGD gypsum as set regulator", ("100105", "fgd-gypsum"), 15000, "t", "year",
               "Desulphurisation gypsum for the cement mills, free moisture below 12%.",
               max_km=400, operation="R5", min_share=0.1),
            _d("Alternative fuels for the kiln: RDF, tyres, waste wood", ("191210", "160103",
               "191207", "tyres", "waste-wood"), 80000, "t", "year",
               "Solid recovered fuels, shredded tyres and B-grade wood for the Antoing kiln. "
               "Chlorine below 1%, particle size below 30 mm.",
               max_km=500, operation="R1", site=1, min_share=0.02),
            _d("Alumina, iron and silica correctives for the raw meal", ("160804", "100210",
               "100908", "spent-catalyst", "mill-scale", "foundry-sand"), 20000, "t", "year",
               "Spent FCC catalyst, mill scale and spent foundry sand replacing bauxite, iron "
               "ore and sand in the raw meal.",
               max_km=600, operation="R5", site=1, min_share=0.02),
            _d("Spent pot lining (SPL) as fuel and raw material", ("161101",), 5000, "t", "year",
               "Carbon and refractory cuts of spent pot lining, crushed below 10 mm. Our kiln "
               "permit covers hazardous co-processing.",
               max_km=600, operation="R5", hazardous=True, site=1, min_share=0.05),
            _o("Cement kiln bypass dust", "101306", 6000, "t", "year", "waste",
               "Chloride bypass dust, about 20% KCl. Of interest to salt or fertiliser makers.",
               form="powder", price="-40.00", site=1),
        ),
        user="bruno.be",
    ),
    OrgSpec(
        "Kallo Chemicals NV", "BE", "20.13", "Lieve Janssens",
        (_site("Site Lillo", "Antwerpen", "Scheldelaan 420", 51.310, 4.330),),
        (
            _o("Oplosmiddelmengsel (spent methanol and ethyl acetate)", "070104", 2500, "t",
               "year", "waste",
               "Afgewerkt oplosmiddelmengsel from the purification section: 60% methanol, 30% "
               "ethyl acetate, water. Halogen-free. In ISO tanks.",
               form="liquid", price="-150.00", list_class="amber", basel_code="A3140"),
            _o("Hydrogen by-product from chlor-alkali electrolysis", "hydrogen", 3500, "t",
               "year", "product",
               "99.9% hydrogen from the membrane electrolysis, today partly flared. Pipeline "
               "connection in the Antwerp and Zeeland hydrogen network.",
               price="2500.00"),
            _o("Surplus steam, 10 bar", "steam", 25, "MWh", "continuous", "product",
               "Steam from the CHP unit not used by our plants.",
               price="22.00"),
            _o("Spent sulphuric acid, 70%", "060101", 6000, "t", "year", "waste",
               "Spent acid from the drying of chlorine, 70% H2SO4, low organics. For acid "
               "regeneration or phosphate rock digestion.",
               form="liquid", price="-30.00", list_class="amber"),
            _o("CO2 from the ethylene oxide unit", "co2", 80000, "t", "year", "product",
               "Concentrated CO2 (> 98%) from the EO plant scrubber. Liquefaction on site "
               "possible.",
               price="10.00"),
            _d("Treated wastewater as cooling-tower make-up", ("treated-wastewater",
               "cooling-water"), 3000, "m3", "day",
               "Polished effluent for the cooling towers. Chloride below 250 mg/l.",
               max_km=40, min_share=0.2),
            _d("Salt and brine as electrolysis feed", ("060314", "salts"), 40000, "t", "year",
               "Sodium chloride from salt-containing residues, low in sulphate and bromide, to "
               "replace vacuum salt.",
               max_km=300, operation="R5", min_share=0.05),
        ),
    ),
    OrgSpec(
        "Stadswarmte Antwerpen NV", "BE", "35.30", "Koen Maes",
        (_site("Warmtecentrale Luchtbal", "Antwerpen", "Noorderlaan 150", 51.245, 4.405),),
        (
            _d("Waste heat for the Antwerpen-Noord heat network", ("waste-heat-low", "hot-water",
               "steam"), 35, "MWh", "continuous",
               "Industrial residual heat for the district-heating network of Antwerpen-Noord, "
               "supply at 90 °C. Port industry within 15 km is the target.",
               max_km=15, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Scheldeboord Afvalverwerking NV", "BE", "38.21", "An De Smet",
        (_site("Verbrandingsoven Doel", "Beveren-Doel", "Molenweg 2", 51.290, 4.255),),
        (
            _o("Incinerator bottom ash (IBA)", "190112", 150000, "t", "year", "waste",
               "Bottom ash from the grate incinerators, metals recovered. For treatment into "
               "secondary aggregate.",
               price="-15.00"),
            _o("Stoom en warmte uit afvalverbranding", "hot-water", 30, "MWh", "continuous",
               "product",
               "Warmte uit de afvalverbrandingsinstallatie, beschikbaar voor bedrijven en het "
               "warmtenet in de haven.",
               price="16.00"),
            _o("Flue-gas cleaning residues (APC)", "190107", 10000, "t", "year", "waste",
               "Residues from the dry flue-gas cleaning, high in salts.",
               form="powder", price="-110.00", list_class="amber"),
            _d("Dewatered sewage sludge for co-incineration", ("190805", "sewage-sludge"), 30000,
               "t", "year",
               "Municipal sewage sludge, at least 20% dry solids, for the fluidised-bed line.",
               max_km=200, operation="R1", min_share=0.05),
            _d("RDF and commercial waste for the grate furnaces", ("191210", "191212"), 50000,
               "t", "year",
               "Baled RDF, shipped to Antwerp; notified imports from the UK accepted.",
               max_km=700, operation="R1", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Brouwerij Sint-Arnoldus NV", "BE", "11.05", "Tine Claes",
        (_site("Brouwerij Antwerpen", "Antwerpen", "Boomsesteenweg 180", 51.195, 4.395),),
        (
            _o("Brouwersdraf (spent grain)", "020799", 250, "t", "week", "by_product",
               "Verse brouwersdraf, 20-24% droge stof, zes dagen per week af te halen. Also "
               "suitable for digestion.",
               category="spent-grain", evidence="self_declared", price="10.00"),
            _d("Food-grade CO2 for carbonation and bottling", ("co2",), 2500, "t", "year",
               "Liquid CO2, food grade (ISBT), delivered by tank truck.",
               max_km=200, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Steenbakkerij Rupelklei NV", "BE", "23.32", "Marc Wouters",
        (_site("Steenbakkerij Boom", "Boom", "Noeveren 90", 51.085, 4.370),),
        (
            _d("Pore formers for clay blocks: paper sludge, sawdust", ("030305", "030310",
               "030105", "paper-sludge", "sawdust"), 20000, "t", "year",
               "Fibre-rich paper sludge and sawdust mixed into the clay to make lightweight "
               "insulating blocks.",
               max_km=150, operation="R5", min_share=0.05),
            _d("Dredged sediment and water-treatment sludge as clay substitute", ("170506",
               "190902", "dredged-sediment", "drinking-water-sludge"), 40000, "t", "year",
               "Fine, clay-rich dredged sediment and iron sludge from drinking-water plants to "
               "replace part of the Rupel clay.",
               max_km=100, operation="R5", min_share=0.05),
            _o("Crushed brick and roof-tile rejects", "101208", 8000, "t", "year", "waste",
               "Fired rejects, crushed to 0/40 mm, for road sub-base or tennis courts.",
               price="-2.00"),
        ),
    ),
    OrgSpec(
        "Vlaamse Visverwerking NV", "BE", "10.20", "Pieter Vandenberghe",
        (_site("Visverwerking Zeebrugge", "Zeebrugge", "Vismijnstraat 12", 51.330, 3.205),),
        (
            _o("Fish offal and filleting residues (category 3)", "020202", 60, "t", "week",
               "by_product",
               "Heads, frames and skins from filleting of plaice, sole and cod, chilled. "
               "Category 3 animal by-product for fishmeal and fish oil.",
               category="fish-residues", evidence="self_declared", price="40.00"),
            _o("Shrimp and shellfish shells", "020202", 400, "t", "year", "waste",
               "Grey shrimp shells from peeling. Calcium-rich; of interest for chitin or liming.",
               category="shells", price="-20.00"),
            _d("Cold at -30 °C for the freezing tunnels", ("cold",), 2, "MWh", "continuous",
               "Refrigeration capacity for blast freezers; a cold loop from a neighbour would "
               "replace our ammonia compressors.",
               max_km=5, min_share=0.3),
        ),
    ),
    OrgSpec(
        "Wielingen Gas Terminal NV", "BE", "52.10", "Stefan Dumont",
        (_site("LNG-terminal Zeebrugge", "Zeebrugge", "Wielingenweg 1", 51.345, 3.195),),
        (
            _o("Cold from LNG regasification", "cold", 10, "MWh", "continuous", "product",
               "Cold energy released when regasifying LNG, available through a glycol loop at "
               "about -40 °C. Today lost to seawater.",
               price="5.00"),
        ),
    ),
    OrgSpec(
        "Scheldemetaal Recycling NV", "BE", "24.45", "Hilde Jacobs",
        (_site("Raffinaderij Hoboken", "Hoboken", "Kanaalstraat 40", 51.170, 4.345),),
        (
            _d("Spent catalysts with precious or transition metals", ("160801", "160802",
               "160807", "spent-catalyst"), 3000, "t", "year",
               "Spent catalysts containing Pt, Pd, Rh, Ni, Co or Mo for pyrometallurgical metal "
               "recovery. We accept hazardous catalysts under notification.",
               max_km=1000, operation="R8", hazardous=True, min_share=0.01),
            _d("Copper-bearing drosses, slags and scrap", ("170401", "191002", "100809",
               "copper-scrap", "non-ferrous-slag"), 20000, "t", "year",
               "Copper and precious-metal bearing residues for the smelter.",
               max_km=600, operation="R4", min_share=0.01),
        ),
    ),
    # ---------------------------------------------------------------- Ghent, North Sea Port (BE)
    OrgSpec(
        "Kanaalzone Staal NV", "BE", "24.10", "Dirk Goossens",
        (_site("Staalfabriek Gent", "Gent", "John Kennedylaan 51", 51.175, 3.805),),
        (
            _o("Gegranuleerde hoogovenslak (granulated blast-furnace slag)", "blast-furnace-slag",
               450000, "t", "year", "product",
               "Granulated blast-furnace slag, glass content above 95%, REACH registered. "
               "Barge loading on the Ghent-Terneuzen canal.",
               price="30.00", can_deliver=True),
            _o("BOF steel slag 0/40 (convertorslak)", "100202", 280000, "t", "year",
               "by_product",
               "Converter slag, aged and crushed. Recognised as by-product by OVAM for use in "
               "road construction in Flanders.",
               category="steel-slag", price="2.00", list_class="green", basel_code="B1210"),
            _o("Walshuid (mill scale)", "100210", 20000, "t", "year", "waste",
               "Mill scale from the hot-strip mill, 70% Fe, oil below 1%.",
               price="25.00"),
            _o("Waste heat from the sinter-plant cooler", "waste-heat-low", 30, "MWh",
               "continuous", "product",
               "Heat recovered from the sinter cooler at 90-120 °C. Ready for a heat network "
               "along the canal zone.",
               price="9.00"),
            _o("Surplus blast-furnace gas", "process-gas", 50000, "MWh", "year", "product",
               "Blast-furnace gas, lower heating value about 3.2 MJ/Nm3, available when the "
               "power plant is in maintenance.",
               price="8.00"),
            _d("Mixed plastic waste as blast-furnace reducing agent", ("191204", "070213",
               "150102", "plastic-scrap"), 30000, "t", "year",
               "Agglomerated mixed plastics (PE, PP, PS) injected into the blast furnace "
               "replacing coal. PVC below 1%.",
               max_km=300, operation="R3", min_share=0.02),
            _d("Ferrous scrap for the converters", ("170405", "191202", "190102",
               "ferrous-scrap"), 200000, "t", "year",
               "Heavy melting scrap and shredded scrap; IBA ferrous fraction after cleaning.",
               max_km=400, operation="R4", min_share=0.01),
        ),
    ),
    OrgSpec(
        "Gentse Oliefabriek NV", "BE", "10.41", "Evelien Mertens",
        (_site("Oliefabriek Rodenhuize", "Gent", "Moervaartkaai 16", 51.125, 3.765),),
        (
            _o("Rapeseed meal (expeller)", "food-residues", 150000, "t", "year", "product",
               "Rapeseed meal from crushing, 34% protein. Feed material, sold by barge or "
               "truck.",
               price="250.00", can_deliver=True),
            _o("Spent bleaching earth", "020399", 3000, "t", "year", "waste",
               "Bleaching clay from edible-oil refining, 25-30% residual oil. For digestion, "
               "or as raw material and fuel in cement kilns.",
               price="-35.00"),
            _d("Process steam, 10 bar", ("steam",), 15, "MWh", "continuous",
               "Steam for the solvent extraction and refinery; we would shut our gas boilers.",
               max_km=8, min_share=0.3),
        ),
    ),
    OrgSpec(
        "Vlaamse Glasrecyclage NV", "BE", "38.32", "Jan Willems",
        (_site("Glasrecyclage Gent", "Gent", "Skaldenstraat 30", 51.150, 3.780),),
        (
            _o("Container glass cullet, colour-sorted, furnace-ready", "191205", 60000, "t",
               "year", "end_of_waste",
               "Flint, amber and green cullet meeting Regulation (EU) 1179/2012 (statement of "
               "conformity per lot). Ceramics, stones and porcelain below 25 g/t.",
               category="glass-cullet", price="45.00", can_deliver=True, list_class="green",
               basel_code="B2020"),
            _o("Fine glass fraction below 8 mm", "191205", 12000, "t", "year", "waste",
               "Fine mixed-colour glass from the optical sorting line. For glass wool, foam "
               "glass or abrasives.",
               category="glass-cullet", price="-5.00"),
            _d("Glass packaging from bottle banks", ("150107", "200102", "glass-cullet"), 80000,
               "t", "year",
               "Mixed-colour container glass from municipal bottle banks, for sorting.",
               max_km=200, operation="R5", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Papierfabriek Scheldeland NV", "BE", "17.12", "Els Dewulf",
        (_site("Papierfabriek Langerbrugge", "Gent", "Wondelgemkaai 159", 51.130, 3.745),),
        (
            _o("De-inking sludge, 55% dry solids", "030305", 30000, "t", "year", "waste",
               "Sludge from de-inking of recovered paper: kaolin, calcium carbonate and short "
               "fibres. For brick works, cement kilns or as soil improver.",
               form="sludge", price="-25.00"),
            _o("Pulper rejects (plastic and fibre)", "030307", 15000, "t", "year", "waste",
               "Mechanically separated rejects from the pulpers, 50% plastics. For RDF "
               "production or energy recovery.",
               price="-60.00"),
            _d("Recovered paper and board (grades 1.02 and 1.05)", ("191201", "150101", "200101",
               "recovered-paper"), 300000, "t", "year",
               "Sorted mixed paper and old corrugated containers for newsprint and packaging "
               "paper.",
               max_km=400, operation="R3", min_share=0.01),
            _d("Process steam, 12 bar", ("steam",), 20, "MWh", "continuous",
               "Steam for the paper machine dryers; we look for industrial or waste-to-energy "
               "steam along the canal.",
               max_km=10, min_share=0.3),
        ),
    ),
    OrgSpec(
        "Glastuinbouw Evergem NV", "BE", "01.13", "Wouter Verstraete",
        (_site("Serres Evergem", "Evergem", "Kapellestraat 77", 51.120, 3.690),),
        (
            _d("CO2 voor bemesting van tomatenserres", ("co2",), 4000, "t", "year",
               "Vloeibare CO2 of CO2 per leiding voor 18 ha tomatenserres, van april tot "
               "oktober. Sources across the Dutch border are fine.",
               max_km=80, min_share=0.1),
            _d("Restwarmte 60-80 °C", ("waste-heat-low", "hot-water"), 10, "MWh", "continuous",
               "Restwarmte uit de kanaalzone voor het verwarmen van de serres.",
               max_km=15, min_share=0.25),
        ),
    ),
    OrgSpec(
        "Gentse Biomassacentrale NV", "BE", "35.11", "Bart Vermeulen",
        (_site("Biomassacentrale Rodenhuize", "Gent", "Rodenhuizekaai 1", 51.145, 3.790),),
        (
            _d("Houtchips en gerecycleerd hout (A/B-hout)", ("191207", "030105", "030101",
               "wood-chips", "waste-wood"), 150000, "t", "year",
               "Houtsnippers, zaagsel en B-hout voor de biomassaketel; aanvoer per schip via "
               "het kanaal Gent-Terneuzen.",
               max_km=400, operation="R1", min_share=0.01),
            _d("Spent coffee grounds and cocoa shells as co-fuel", ("020304",
               "fruit-veg-residues", "food-residues"), 15000, "t", "year",
               "Dry food-industry residues with high calorific value as co-fuel.",
               max_km=400, operation="R1", min_share=0.02),
            _o("Biomass boiler bottom ash", "100101", 12000, "t", "year", "waste",
               "Bottom ash from the wood-fired boiler, sand-rich. For road sub-base or cement.",
               price="-12.00"),
            _o("Process steam from the biomass CHP", "steam", 20, "MWh", "continuous",
               "product",
               "Steam at 12 bar for neighbours along the canal.",
               price="21.00"),
        ),
    ),
    # ------------------------------------------------------------------------------- Liège (BE)
    OrgSpec(
        "Meuse Ciment SA", "BE", "23.51", "Olivier Dubois",
        (_site("Cimenterie de Lixhe", "Visé", "Rue de la Carrière 1", 50.755, 5.680),),
        (
            _d("Cendres volantes (fly ash) pour ciment", ("100102", "100117", "fly-ash"), 40000,
               "t", "year",
               "Cendres volantes silico-alumineuses conformes EN 450-1, livrées par péniche via "
               "le canal Albert.",
               max_km=300, operation="R5", min_share=0.05),
            _d("Combustibles de substitution: pneus, CSR, solvants usagés", ("160103", "191210",
               "070104", "070508", "tyres", "solvents"), 60000, "t", "year",
               "Pneus usagés broyés, combustibles solides de récupération et solvants usagés "
               "pour le four. Permit covers hazardous liquid fuels.",
               max_km=400, operation="R1", hazardous=True, min_share=0.01),
            _d("Sables de fonderie usagés", ("100908", "foundry-sand"), 10000, "t", "year",
               "Spent foundry sand as silica corrective in the raw meal.",
               max_km=100, operation="R5", min_share=0.05),
            _d("Catalyseurs FCC usés (source d'alumine)", ("160804", "spent-catalyst"), 6000,
               "t", "year",
               "Spent FCC catalyst as alumina corrective; deliveries from French, Dutch and "
               "British refineries.",
               max_km=600, operation="R5", min_share=0.05),
            _o("Poussières de by-pass (bypass dust)", "101306", 4000, "t", "year", "waste",
               "Poussières de by-pass chlorées, 15% KCl.",
               form="powder", price="-40.00"),
        ),
    ),
    OrgSpec(
        "Fonderie de la Meuse SA", "BE", "24.51", "Sophie Lambert",
        (_site("Fonderie Herstal", "Herstal", "Rue de l'Abbaye 20", 50.665, 5.625),),
        (
            _o("Sable de fonderie usagé (spent foundry sand)", "100908", 18000, "t", "year",
               "waste",
               "Bentonite-bonded green sand after pouring, 85% SiO2. For cement kilns or road "
               "sub-base.",
               price="-10.00"),
            _o("Cupola furnace slag", "100903", 3000, "t", "year", "waste",
               "Glassy cupola slag, crushed 0/20.",
               price="-15.00"),
            _d("Ferrous scrap and cast-iron turnings", ("120101", "170405", "ferrous-scrap"),
               25000, "t", "year",
               "Steel scrap and cast-iron borings for the cupola.",
               max_km=200, operation="R4", min_share=0.02),
        ),
    ),
    # ----------------------------------------------------------------------------- Dunkirk (FR)
    OrgSpec(
        "Aciéries de la Côte d'Opale SA", "FR", "24.10", "Claire Martin",
        (_site("Usine de Grande-Synthe", "Grande-Synthe", "Route de l'Écluse Trystram", 51.025,
               2.285),),
        (
            _o("Laitier de haut fourneau granulé (GBS)", "blast-furnace-slag", 1000000, "t",
               "year", "product",
               "Laitier granulé vitrifié à plus de 95%, enregistré REACH, pour ciments CEM III "
               "et laitier moulu. Chargement navire au quai minéralier.",
               price="28.00", can_deliver=True),
            _o("Laitier d'aciérie LD 0/31,5 (BOF slag)", "100202", 400000, "t", "year",
               "by_product",
               "Laitier de convertisseur vieilli et concassé, reconnu sous-produit en France "
               "pour les couches de forme routières.",
               category="steel-slag", price="2.00", list_class="green", basel_code="B1210"),
            _o("Calamine (mill scale)", "100210", 30000, "t", "year", "waste",
               "Calamine de laminoir à chaud, 72% Fe, huile < 1%.",
               price="30.00"),
            _o("Chaleur fatale des agglomérations", "waste-heat-low", 25, "MWh", "continuous",
               "product",
               "Chaleur récupérée sur le refroidisseur d'agglomération, déjà en partie livrée "
               "au réseau de chaleur de Dunkerque; capacité supplémentaire disponible.",
               price="10.00"),
            _o("Poussières d'aciérie riches en zinc", "100207", 18000, "t", "year", "waste",
               "Zinc-bearing dust from the converter gas cleaning, 8-15% Zn. For a Waelz "
               "process.",
               form="powder", price="-80.00", list_class="amber"),
            _d("Ferraille triée E3/E8 (sorted ferrous scrap)", ("170405", "191202",
               "ferrous-scrap"), 350000, "t", "year",
               "Ferraille lourde et broyée pour les convertisseurs. Livraison par navire depuis "
               "le Royaume-Uni et la Belgique bienvenue.",
               max_km=600, operation="R4", min_share=0.01),
            _d("Résidus ferreux pour l'agglomération (mill scale, iron-rich fines)", ("100210",
               "120101", "mill-scale"), 40000, "t", "year",
               "Calamine et fines riches en fer pour la chaîne d'agglomération.",
               max_km=400, operation="R4", min_share=0.02),
        ),
        user="claire.fr",
    ),
    OrgSpec(
        "Réseau de Chaleur du Dunkerquois SAS", "FR", "35.30", "Julien Leroy",
        (_site("Chaufferie centrale", "Dunkerque", "Quai des Fusiliers Marins 5", 51.035,
               2.365),),
        (
            _d("Chaleur de récupération pour le réseau urbain", ("waste-heat-low", "hot-water"),
               28, "MWh", "continuous",
               "Chaleur industrielle à plus de 90 °C pour le réseau de chaleur de "
               "l'agglomération (16,000 logements).",
               max_km=15, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Aluminium de Loon-Plage SAS", "FR", "24.42", "Nathalie Petit",
        (_site("Usine d'électrolyse", "Loon-Plage", "Route du Comte Jean", 51.000, 2.215),),
        (
            _o("Brasques usées (spent pot lining)", "161101", 8000, "t", "year", "waste",
               "Spent pot lining from the electrolysis cells: carbon cut and refractory cut, "
               "contains fluorides and cyanides. For co-processing in cement kilns.",
               price="-200.00", list_class="amber"),
            _o("Crasses d'aluminium (dross)", "100316", 3000, "t", "year", "waste",
               "Aluminium skimmings from the casthouse, 40-60% metallic Al. For metal recovery.",
               price="150.00"),
            _d("Aluminium scrap for the casthouse", ("170402", "191203", "aluminium-scrap"),
               20000, "t", "year",
               "Clean aluminium profiles and sheet scrap for remelting.",
               max_km=600, operation="R4", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Ciments du Littoral SAS", "FR", "23.51", "Thomas Moreau",
        (_site("Station de broyage Dunkerque", "Dunkerque", "Route du Quai Freycinet", 51.048,
               2.335),),
        (
            _d("Laitier granulé de haut fourneau pour CEM III", ("blast-furnace-slag",), 300000,
               "t", "year",
               "Laitier granulé pour notre station de broyage, livraison par bande ou camion.",
               max_km=100, min_share=0.05),
            _d("Gypse de désulfuration (régulateur de prise)", ("100105", "fgd-gypsum"), 20000,
               "t", "year",
               "FGD gypsum as set regulator; sea deliveries from the UK and the Netherlands to "
               "the port of Dunkirk accepted.",
               max_km=600, operation="R5", min_share=0.05),
            _d("Cendres volantes", ("100102", "fly-ash"), 30000, "t", "year",
               "Fly ash for CEM II/B-V.",
               max_km=400, operation="R5", min_share=0.05),
        ),
    ),
    OrgSpec(
        "Verrerie des Flandres SAS", "FR", "23.13", "Camille Bernard",
        (_site("Verrerie d'Arques", "Arques", "Avenue du Général de Gaulle 104", 50.735,
               2.305),),
        (
            _d("Calcin de verre prêt au four (glass cullet)", ("191205", "150107", "101112",
               "glass-cullet"), 80000, "t", "year",
               "Calcin trié par couleur, conforme au règlement (UE) 1179/2012 de préférence. "
               "Belgian and Dutch suppliers welcome.",
               max_km=300, operation="R5", min_share=0.02),
            _o("Waste heat from furnace flue gas", "waste-heat-low", 6, "MWh", "continuous",
               "product",
               "Flue-gas heat after the regenerators, recoverable as hot water at 90 °C.",
               price="12.00"),
            _o("Refractory bricks from furnace rebuild", "161106", 1200, "t", "once", "waste",
               "AZS and silica refractories from the rebuild of furnace 3, sorted by type.",
               price="-20.00", start=120, months=4),
        ),
    ),
    OrgSpec(
        "Sucrerie de l'Yser SAS", "FR", "10.81", "Antoine Dupont",
        (_site("Sucrerie de Bergues", "Bergues", "Route de Socx", 50.960, 2.430),),
        (
            _o("Pulpes de betteraves surpressées", "sugar-beet-pulp", 90000, "t", "year",
               "by_product",
               "Pressed beet pulp (24% dry matter) during the campaign, September to January. "
               "Cattle feed or digestion.",
               evidence="self_declared", price="30.00", start=243, months=5),
            _o("Terre de lavage des betteraves", "020401", 60000, "t", "year", "waste",
               "Soil from beet washing and settling ponds. For landscaping and embankments.",
               price="-2.00", start=243, months=8),
            _o("Écumes de sucrerie (carbonatation lime)", "020402", 25000, "t", "year",
               "by_product",
               "Calcium carbonate from juice purification, 50% CaCO3. Agricultural liming "
               "agent.",
               price="5.00"),
        ),
    ),
    # ------------------------------------------------------------- HAROPA: Le Havre, Rouen (FR)
    OrgSpec(
        "Raffinerie de l'Estuaire SAS", "FR", "19.20", "François Girard",
        (_site("Raffinerie de Gonfreville", "Gonfreville-l'Orcher", "Route du Hode", 49.480,
               0.225),),
        (
            _o("Catalyseur FCC usé (spent FCC catalyst)", "160804", 2000, "t", "year", "waste",
               "Equilibrium catalyst from the FCC unit, aluminosilicate, metals below "
               "hazardous thresholds.",
               form="powder", price="-50.00", list_class="green", basel_code="GC050"),
            _o("Soufre liquide", "sulphur", 80000, "t", "year", "product",
               "Claus sulphur, liquid, 99.9%.",
               form="liquid", price="80.00", can_deliver=True),
            _o("Hydrogène excédentaire", "hydrogen", 2000, "t", "year", "product",
               "Surplus hydrogen from the catalytic reformer, 90% purity.",
               price="2000.00"),
            _o("Soude usée (spent caustic)", "050111", 5000, "t", "year", "waste",
               "Spent caustic from LPG and gasoline sweetening, sulphidic.",
               form="liquid", price="-90.00", list_class="amber"),
            _d("Huiles alimentaires usagées pour co-traitement", ("200125", "used-cooking-oil"),
               30000, "t", "year",
               "UCO for co-processing in the hydrotreater, ISCC EU certified chain.",
               max_km=600, operation="R3", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Seine Engrais SA", "FR", "20.15", "Isabelle Lefèvre",
        (_site("Usine de Grand-Quevilly", "Grand-Quevilly", "Boulevard Stalingrad 50", 49.410,
               1.030),),
        (
            _o("Phosphogypse", "060904", 200000, "t", "year", "waste",
               "Phosphogypsum from phosphoric acid production, low radioactivity. For "
               "plaster, cement or soil amendment.",
               category="phosphogypsum", price="-5.00"),
            _d("Acide sulfurique usé pour l'attaque phosphatique", ("060101", "acids-alkalis"),
               20000, "t", "year",
               "Spent sulphuric acid (> 60%) to digest phosphate rock. Permit covers hazardous "
               "acids.",
               max_km=600, operation="R6", hazardous=True, min_share=0.05),
            _d("Soufre liquide pour l'atelier d'acide sulfurique", ("sulphur",), 100000, "t",
               "year",
               "Liquid sulphur for the sulphuric-acid plant, by heated truck or barge.",
               max_km=300, min_share=0.05),
        ),
    ),
    OrgSpec(
        "Normandie Collecte Huiles SARL", "FR", "38.11", "Lucas Fontaine",
        (
            _site("Dépôt du Havre", "Le Havre", "Rue Marcel Toussaint 12", 49.470, 0.160),
            _site("Dépôt de Rouen", "Petit-Quevilly", "Rue de Sotteville 8", 49.425, 1.055),
        ),
        (
            _o("Huiles alimentaires usagées (UCO)", "200125", 6000, "t", "year", "waste",
               "Used cooking oil collected from restaurants in Normandy, decanted and filtered. "
               "ISCC EU certified collection point.",
               form="liquid", price="600.00", can_deliver=True, list_class="green",
               basel_code="B3065"),
            _o("Huiles de vidange (used engine oil)", "130205", 4000, "t", "year", "waste",
               "Used mineral engine and gear oil from garages, for re-refining.",
               form="liquid", price="50.00", list_class="amber", site=1),
        ),
    ),
    OrgSpec(
        "Papeterie de la Seine SAS", "FR", "17.12", "Mathilde Roux",
        (_site("Papeterie de Grand-Couronne", "Grand-Couronne", "Boulevard Pierre Huet", 49.360,
               1.010),),
        (
            _o("Boues de désencrage", "030305", 25000, "t", "year", "waste",
               "De-inking sludge, 50% dry solids, mineral-rich.",
               form="sludge", price="-30.00"),
            _o("Cendres de chaudière biomasse", "100103", 5000, "t", "year", "waste",
               "Fly ash from the bark and wood boiler; lime and potash rich. For cement or "
               "agricultural use.",
               form="powder", price="-20.00"),
            _d("Papiers et cartons à recycler", ("191201", "150101", "recovered-paper"), 250000,
               "t", "year",
               "Recovered paper for newsprint, by barge on the Seine or by truck.",
               max_km=400, operation="R3", min_share=0.01),
            _d("Plaquettes de bois de récupération pour chaudière", ("191207", "030105",
               "wood-chips", "waste-wood"), 80000, "t", "year",
               "Recovered wood chips and sawdust for the biomass boiler.",
               max_km=200, operation="R1", min_share=0.02),
        ),
    ),
    # --------------------------------------------------------------- Hamburg and Stade (DE)
    OrgSpec(
        "Elbe Kupferhütte AG", "DE", "24.44", "Katrin Schulz",
        (_site("Hütte Veddel", "Hamburg", "Hovestraße 50", 53.525, 10.025),),
        (
            _o("Eisensilikatgestein (iron silicate slag)", "100601", 700000, "t", "year",
               "product",
               "Granulated and lump iron silicate from copper smelting, CE-marked aggregate for "
               "hydraulic engineering, and grit for blasting.",
               price="8.00", can_deliver=True),
            _o("Industrial waste heat, 90 °C", "hot-water", 20, "MWh", "continuous", "product",
               "Heat recovered from the sulphuric-acid plant; supplies part of HafenCity Ost, "
               "more is available.",
               price="15.00"),
            _d("Copper-bearing scrap and residues", ("170401", "191002", "copper-scrap",
               "non-ferrous-scrap"), 100000, "t", "year",
               "Copper scrap, cable granulate and copper-bearing residues for the secondary "
               "smelter.",
               max_km=800, operation="R4", min_share=0.005),
        ),
    ),
    OrgSpec(
        "Fernwärme HafenCity GmbH", "DE", "35.30", "Jan Becker",
        (_site("Heizwerk HafenCity", "Hamburg", "Versmannstraße 30", 53.541, 10.005),),
        (
            _d("Abwärme für das Fernwärmenetz HafenCity Ost", ("waste-heat-low", "hot-water"),
               18, "MWh", "continuous",
               "Industrielle Abwärme ab 85 °C für das Fernwärmenetz. Anbindung über die "
               "Norderelbe.",
               max_km=10, min_share=0.2),
        ),
    ),
    OrgSpec(
        "Stader Chemiepark GmbH", "DE", "20.13", "Thomas Wagner",
        (_site("Chemiepark Bützfleth", "Stade", "Bützflether Sand 2", 53.640, 9.510),),
        (
            _o("Wasserstoff aus der Chlor-Alkali-Elektrolyse", "hydrogen", 6000, "t", "year",
               "product",
               "By-product hydrogen, 99.9%, partly burnt in the boilers today.",
               price="2200.00"),
            _o("Surplus process steam", "steam", 35, "MWh", "continuous", "product",
               "Steam at 18 bar from the site power plant.",
               price="20.00"),
            _o("Spent hydrochloric acid, 20%", "060102", 8000, "t", "year", "waste",
               "Hydrochloric acid from chlorination processes, organics below 100 mg/l.",
               form="liquid", price="-40.00", list_class="amber"),
            _d("Salt brine and solid salts as electrolysis feed", ("060314", "salts"), 50000, "t",
               "year",
               "Sodium chloride solutions and salts, low in sulphate and heavy metals, to "
               "replace rock salt.",
               max_km=300, operation="R5", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Elbmarsch Beton GmbH", "DE", "23.63", "Michael Hoffmann",
        (_site("Transportbetonwerk Billbrook", "Hamburg", "Liebigstraße 70", 53.535, 10.085),),
        (
            _d("RC-Gesteinskörnung (recycled concrete aggregate)", ("170101", "170107",
               "concrete-rubble"), 60000, "t", "year",
               "Rezyklierte Gesteinskörnung Typ 1 nach DIN 4226-101 für R-Beton.",
               max_km=80, operation="R5", min_share=0.02),
            _d("Flugasche für Beton (EN 450)", ("100102", "fly-ash"), 15000, "t", "year",
               "Steinkohlenflugasche als Betonzusatzstoff, silo delivery.",
               max_km=300, operation="R5", min_share=0.05),
            _d("Hüttensandmehl (GGBS)", ("blast-furnace-slag",), 30000, "t", "year",
               "Ground granulated blast-furnace slag as cement replacement.",
               max_km=300, min_share=0.05),
            _o("Restbeton und Waschschlamm", "101314", 5000, "t", "year", "waste",
               "Returned concrete and washing sludge, hardened and crushed.",
               price="-15.00"),
        ),
    ),
    OrgSpec(
        "Norddeutsche Mischfutter GmbH", "DE", "10.91", "Sabine Krüger",
        (_site("Mischfutterwerk Harburg", "Hamburg", "Seehafenstraße 12", 53.465, 9.975),),
        (
            _d("Biertreber und Nebenprodukte der Lebensmittelindustrie", ("020799", "020304",
               "020601", "spent-grain", "bakery-residues", "fruit-veg-residues"), 40000, "t",
               "year",
               "Brewers' grains, bakery residues and vegetable by-products for compound feed. "
               "Feed material register entry required.",
               max_km=200, min_share=0.02),
            _d("Rapeseed and sunflower meal", ("food-residues",), 100000, "t", "year",
               "Oilseed meals as protein source, by barge or coaster.",
               max_km=600, min_share=0.02),
        ),
    ),
    OrgSpec(
        "Alster Brauerei GmbH", "DE", "11.05", "Florian Schmidt",
        (_site("Brauerei Altona", "Hamburg", "Harkortstraße 20", 53.560, 9.935),),
        (
            _o("Biertreber (brewers' spent grain)", "020799", 400, "t", "week", "by_product",
               "Frischer Biertreber, ca. 23% TS, täglich abholbereit.",
               category="spent-grain", evidence="self_declared", price="15.00"),
            _o("Überschusshefe (surplus yeast)", "020799", 50, "t", "week", "by_product",
               "Gekühlte Hefe, 12% TS, for feed or yeast extract.",
               category="spent-grain", evidence="self_declared", form="sludge", price="20.00"),
            _d("CO2 in Lebensmittelqualität", ("co2",), 3000, "t", "year",
               "Food-grade CO2 for carbonation, by tank truck.",
               max_km=300, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Elbe Altöl-Raffination GmbH", "DE", "19.20", "Birgit Lange",
        (_site("Zweitraffinerie Harburg", "Hamburg", "Neuländer Kamp 9", 53.470, 10.010),),
        (
            _d("Altöl zur Zweitraffination (used lubricating oils)", ("130205", "130208"),
               60000, "t", "year",
               "Used engine, gear and hydraulic oils (Altöl category 1) for re-refining into "
               "base oil. Notified imports from France and the Benelux.",
               max_km=900, operation="R9", hazardous=True, min_share=0.005),
            _o("Re-refined base oil (group II)", "chemicals", 40000, "t", "year", "product",
               "Base oil from re-refining, API group II, for lubricant blenders.",
               form="liquid", price="700.00", can_deliver=True),
            _o("Vacuum residue (bitumen flux) from re-refining", "050117", 8000, "t", "year",
               "waste",
               "Heavy vacuum residue, used as bitumen modifier for roofing or asphalt.",
               form="liquid", price="40.00"),
        ),
    ),
    # --------------------------------------------------------------- Bremen and Bremerhaven (DE)
    OrgSpec(
        "Weserhütte Stahl GmbH", "DE", "24.10", "Stefan Müller",
        (_site("Hüttenwerk Bremen", "Bremen", "Carl-Benz-Straße 30", 53.125, 8.690),),
        (
            _o("Hüttensand (granulated blast-furnace slag)", "blast-furnace-slag", 700000, "t",
               "year", "product",
               "Glasig erstarrte Hochofenschlacke, REACH registriert, for cement plants. Ship "
               "loading on the Weser.",
               price="30.00", can_deliver=True),
            _o("LD-Schlacke für den Straßenbau (BOF slag)", "100202", 300000, "t", "year",
               "by_product",
               "Gealterte LD-Schlacke 0/32 nach TL Gestein-StB, raumbeständig.",
               category="steel-slag", price="3.00", list_class="green", basel_code="B1210"),
            _o("Gichtgasschlamm (zinc-bearing BF sludge)", "100213", 12000, "t", "year", "waste",
               "Filter cake from blast-furnace gas cleaning, 4% Zn, 35% Fe.",
               form="sludge", price="-90.00", list_class="amber"),
            _o("Walzzunder (mill scale)", "100210", 12000, "t", "year", "waste",
               "Walzzunder aus der Warmbreitbandstraße, ölarm.",
               price="25.00"),
            _d("Stahlschrott (ferrous scrap)", ("170405", "191202", "ferrous-scrap"), 250000, "t",
               "year",
               "Sorted steel scrap for the converters.",
               max_km=500, operation="R4", min_share=0.01),
        ),
    ),
    OrgSpec(
        "Bremerhavener Fischverarbeitung GmbH", "DE", "10.20", "Heike Brandt",
        (_site("Fischereihafen", "Bremerhaven", "Am Lunedeich 120", 53.525, 8.580),),
        (
            _o("Fischabfälle (Kategorie 3) für Fischmehl", "020202", 100, "t", "week",
               "by_product",
               "Köpfe, Gräten und Haut aus der Filetierung, gekühlt. Category 3 material for "
               "fishmeal and fish oil.",
               category="fish-residues", evidence="self_declared", price="50.00"),
            _o("Flotation sludge from effluent treatment", "020204", 2000, "t", "year", "waste",
               "Fat- and protein-rich DAF sludge. For digestion.",
               form="sludge", price="-30.00"),
        ),
    ),
    OrgSpec(
        "Weser Brauerei GmbH", "DE", "11.05", "Lars Meyer",
        (_site("Brauerei Bremen", "Bremen", "Am Deich 18", 53.075, 8.795),),
        (
            _o("Biertreber", "020799", 350, "t", "week", "by_product",
               "Nasser Biertreber, 22% TS, an sechs Tagen pro Woche.",
               category="spent-grain", evidence="self_declared", price="12.00"),
            _d("CO2 (Lebensmittelqualität)", ("co2",), 2000, "t", "year",
               "Food-grade CO2 for bottling.",
               max_km=300, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Hanseatische Kaffeerösterei GmbH", "DE", "10.83", "Julia Weber",
        (_site("Rösterei Überseestadt", "Bremen", "Konsul-Smidt-Straße 40", 53.095, 8.760),),
        (
            _o("Coffee silverskin and roasting chaff", "020304", 600, "t", "year", "waste",
               "Light chaff from the roasters. For composting, digestion or pellets.",
               category="food-residues", price="-10.00"),
            _o("Kaffeesatz aus der Löskaffeeproduktion (spent coffee grounds)", "020304", 8000,
               "t", "year", "by_product",
               "Spent coffee grounds from soluble-coffee extraction, 40% dry solids, 20 MJ/kg "
               "dry. Biomass fuel or substrate.",
               category="food-residues", evidence="self_declared", price="-5.00"),
        ),
    ),
    # ----------------------------------------------------------- Duisburg and the Lower Rhine (DE)
    OrgSpec(
        "Rhein-Ruhr Stahl GmbH", "DE", "24.10", "Dieter Schneider",
        (
            _site("Hüttenwerk Bruckhausen", "Duisburg", "Kaiser-Wilhelm-Straße 100", 51.495,
                  6.735),
            _site("Werk Huckingen", "Duisburg", "Ehinger Straße 200", 51.370, 6.740),
        ),
        (
            _o("Hüttensand (granulated blast-furnace slag, GBS)", "blast-furnace-slag", 1200000,
               "t", "year", "product",
               "Hüttensand für die Zementindustrie, REACH registriert. Loading onto Rhine barges "
               "at our own harbour.",
               price="30.00", can_deliver=True),
            _o("LD-Schlacke (BOF slag)", "100202", 500000, "t", "year", "by_product",
               "Converter slag, aged, for road construction and hydraulic engineering.",
               category="steel-slag", price="2.00", list_class="green", basel_code="B1210"),
            _o("Gichtgasschlamm, zinkreich (BF sludge)", "100213", 30000, "t", "year", "waste",
               "Blast-furnace sludge, 5% Zn, for Waelz or rotary hearth recycling.",
               form="sludge", price="-75.00", list_class="amber", site=1),
            _o("Walzzunder (mill scale)", "100210", 25000, "t", "year", "waste",
               "Mill scale, 70% Fe.",
               price="30.00"),
            _o("Kokereigas-Überschuss (coke-oven gas)", "process-gas", 100000, "MWh", "year",
               "product",
               "Surplus coke-oven gas, 17 MJ/Nm3, rich in hydrogen. Pipeline in the Duisburg "
               "north.",
               price="15.00"),
            _o("Abwärme aus der Sinteranlage", "waste-heat-low", 40, "MWh", "continuous",
               "product",
               "Abwärme bei 100-130 °C, für Fernwärme oder Industrie in Duisburg-Nord.",
               price="8.00"),
            _d("Sortierter Stahlschrott", ("170405", "191202", "191001", "ferrous-scrap"), 600000,
               "t", "year",
               "Stahlschrott der Sorten E1, E3 und E8 for the converters.",
               max_km=600, operation="R4", min_share=0.005),
            _d("Kunststoffabfälle als Reduktionsmittel", ("191204", "070213", "plastic-scrap"),
               40000, "t", "year",
               "Agglomerated mixed plastics for injection into the blast furnace.",
               max_km=400, operation="R3", min_share=0.02),
        ),
        user="dieter.de",
    ),
    OrgSpec(
        "Niederrhein Kraftwerk GmbH", "DE", "35.11", "Andreas Koch",
        (_site("Kraftwerk Walsum", "Duisburg", "Dr.-Wilhelm-Roelen-Straße 129", 51.525,
               6.720),),
        (
            _o("Steinkohlenflugasche (coal fly ash)", "100102", 120000, "t", "year", "by_product",
               "Fly ash to EN 450-1, loaded into barges at the power-plant harbour.",
               form="powder", price="-2.00", can_deliver=True, list_class="green",
               basel_code="B2050"),
            _o("REA-Gips (FGD gypsum)", "100105", 80000, "t", "year", "by_product",
               "Gips aus der Rauchgasentschwefelung, > 96% CaSO4·2H2O. By barge down the Rhine "
               "to Dutch and Belgian plasterboard plants.",
               price="3.00", can_deliver=True, list_class="green", basel_code="B2040"),
            _o("Schmelzkammergranulat (boiler slag)", "100101", 20000, "t", "year", "by_product",
               "Glassy boiler slag, used as blasting abrasive and in road construction.",
               price="5.00"),
            _d("Klärschlamm zur Mitverbrennung (sewage sludge)", ("190805", "sewage-sludge"),
               40000, "t", "year",
               "Dried or dewatered municipal sewage sludge for co-combustion.",
               max_km=150, operation="R1", min_share=0.05),
            _d("Altholz A I-A III zur Mitverbrennung", ("191207", "170201", "waste-wood"),
               50000, "t", "year",
               "Shredded waste wood of classes A I to A III.",
               max_km=300, operation="R1", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Krefelder Chemie GmbH", "DE", "20.13", "Martina Richter",
        (_site("Chemiepark Uerdingen", "Krefeld", "Rheinuferstraße 7", 51.355, 6.645),),
        (
            _o("Dünnsäure (spent sulphuric acid, 20%)", "060101", 15000, "t", "year", "waste",
               "Dilute sulphuric acid from pigment production, iron-bearing.",
               form="liquid", price="-60.00", list_class="amber"),
            _o("Eisen(II)-sulfat (copperas)", "salts", 30000, "t", "year", "product",
               "Ferrous sulphate heptahydrate, for water treatment and cement chromate "
               "reduction.",
               price="20.00", can_deliver=True),
            _d("Spent pickling acid (HCl) for iron chloride production", ("110105",
               "acids-alkalis"), 20000, "t", "year",
               "Spent hydrochloric pickling liquor from steel works, 120-150 g/l Fe, for "
               "ferric chloride production.",
               max_km=400, operation="R6", hazardous=True, min_share=0.05),
        ),
    ),
    OrgSpec(
        "Neusser Aluminium Walzwerk GmbH", "DE", "24.42", "Tobias Neumann",
        (_site("Walzwerk Neuss", "Neuss", "Koblenzer Straße 120", 51.205, 6.705),),
        (
            _o("Aluminium-Krätze (dross)", "100316", 6000, "t", "year", "waste",
               "Skimmings from the casthouse furnaces, 50% metallic aluminium.",
               price="200.00"),
            _o("Verbrauchte Walzölemulsion", "120109", 3000, "t", "year", "waste",
               "Spent rolling emulsion, halogen-free, for splitting and oil recovery.",
               form="liquid", price="-120.00", list_class="amber"),
            _d("Aluminiumschrott (Profile, Bleche)", ("170402", "191203", "aluminium-scrap"),
               80000, "t", "year",
               "Sorted aluminium scrap for remelting into rolling slabs. Dutch and Belgian "
               "suppliers welcome.",
               max_km=600, operation="R4", min_share=0.01),
        ),
    ),
    OrgSpec(
        "Ruhrort Zinkrecycling GmbH", "DE", "24.43", "Klaus Wolf",
        (_site("Wälzanlage Ruhrort", "Duisburg", "Hafenstraße 40", 51.455, 6.745),),
        (
            _d("Zinkhaltige Stahlwerksstäube und Schlämme", ("100207", "100213", "100208",
               "metal-dusts-sludges"), 200000, "t", "year",
               "EAF dust, converter dust and blast-furnace sludge with at least 3% Zn for the "
               "Waelz kilns. Notified shipments from the Benelux, France and Luxembourg.",
               max_km=800, operation="R4", hazardous=True, min_share=0.005),
        ),
    ),
    # ------------------------------------------------------------------------------- Basel (CH)
    OrgSpec(
        "Rheinhafen Pharma AG", "CH", "21.10", "Reto Brunner",
        (_site("Werk Schweizerhalle", "Pratteln", "Rothausstrasse 61", 47.532, 7.685),),
        (
            _o("Spent solvents from API synthesis (IPA, THF, toluene)", "070504", 3000, "t",
               "year", "waste",
               "Lösemittelgemische aus der Wirkstoffsynthese, halogen-free, in IBC and ISO tank. "
               "Looking for distillation across the Rhine.",
               form="liquid", price="-180.00", list_class="amber", basel_code="A3140"),
            _d("Prozessdampf 12 bar", ("steam",), 10, "MWh", "continuous",
               "Steam from waste incineration to replace our gas-fired boilers.",
               max_km=12, min_share=0.3),
        ),
    ),
    OrgSpec(
        "Energiewerk Kleinhüningen AG", "CH", "38.21", "Simone Meier",
        (_site("Kehrichtverwertung Kleinhüningen", "Basel", "Hochbergerstrasse 80", 47.578,
               7.598),),
        (
            _o("Fernwärme aus der Kehrichtverwertung", "hot-water", 45, "MWh", "continuous",
               "product",
               "District heat from the waste-to-energy plant, 120 °C supply.",
               price="16.00"),
            _o("Prozessdampf 12 bar", "steam", 10, "MWh", "continuous", "product",
               "Steam for the chemical sites along the Rhine.",
               price="24.00"),
            _o("Kehrichtschlacke (IBA) for metal recovery", "190112", 40000, "t", "year", "waste",
               "Dry-discharged bottom ash, rich in non-ferrous metals.",
               price="-60.00"),
        ),
    ),
    OrgSpec(
        "Fernwärme Birsfelden AG", "CH", "35.30", "Lukas Frei",
        (_site("Heizzentrale Birsfelden", "Birsfelden", "Hafenstrasse 20", 47.555, 7.625),),
        (
            _d("Abwärme für das Fernwärmenetz Birsfelden", ("hot-water", "waste-heat-low"), 20,
               "MWh", "continuous",
               "Heat at 90 °C or more for the district heating network.",
               max_km=12, min_share=0.2),
        ),
    ),
    OrgSpec(
        "Jura Zement AG", "CH", "23.51", "Beat Zimmermann",
        (_site("Zementwerk Siggenthal", "Siggenthal", "Zementstrasse 1", 47.515, 8.245),),
        (
            _d("Sekundärbrennstoffe: Destillationsrückstände, Altreifen, Klärschlamm", ("070508",
               "070108", "160103", "190805", "solvents", "tyres", "sewage-sludge"), 50000, "t",
               "year",
               "Alternative fuels for the kiln; the permit covers hazardous liquid residues.",
               max_km=300, operation="R1", hazardous=True, min_share=0.01),
            _d("Flugasche und Hüttensand als Zementzusatzstoffe", ("100102", "fly-ash",
               "blast-furnace-slag"), 40000, "t", "year",
               "Fly ash and granulated slag by Rhine barge to Basel, then rail.",
               max_km=700, operation="R5", min_share=0.02),
        ),
    ),
    # ---------------------------------------------------------------- Grenzach-Wyhlen (DE, Basel)
    OrgSpec(
        "Oberrhein Lösemittel-Recycling GmbH", "DE", "38.22", "Andrea Keller",
        (_site("Werk Grenzach", "Grenzach-Wyhlen", "Emil-Barell-Straße 3", 47.548, 7.668),),
        (
            _d("Lösemittelgemische zur Destillation (spent solvents)", ("070504", "070104",
               "070304", "140603", "solvents"), 20000, "t", "year",
               "Halogenfreie Lösemittelgemische aus Pharma und Chemie; Swiss suppliers a few km "
               "away are our main customers.",
               max_km=800, operation="R2", hazardous=True, min_share=0.005),
            _o("Recovered solvents (acetone, IPA, ethanol)", "chemicals", 12000, "t", "year",
               "product",
               "Destillierte Lösemittel in Pharmaqualität, returned to the producer or sold.",
               form="liquid", price="450.00", can_deliver=True),
            _o("Destillationsrückstände zur energetischen Verwertung", "070508", 2500, "t",
               "year", "waste",
               "Still bottoms, 28 MJ/kg, for cement kilns.",
               form="sludge", price="-180.00", list_class="amber"),
        ),
    ),
    # ------------------------------------------------------------------------------- Dublin (IE)
    OrgSpec(
        "Liffey Stout Brewery Ltd", "IE", "11.05", "Ciarán Murphy",
        (_site("Liffey Brewery", "Dublin", "Watling Street 12", 53.343, -6.288),),
        (
            _o("Brewers' spent grain, wet (22% DM)", "020799", 300, "t", "week", "by_product",
               "Wet spent grain from the mash filters, collected daily by tipper. Registered "
               "feed business.",
               category="spent-grain", evidence="self_declared", price="8.00"),
            _o("Spent yeast slurry", "020799", 60, "t", "week", "by_product",
               "Surplus yeast, 12% dry matter, chilled.",
               category="spent-grain", evidence="self_declared", form="sludge", price="5.00"),
            _d("Food-grade CO2", ("co2",), 5000, "t", "year",
               "Liquid CO2 to ISBT quality, delivered by road tanker or ISO container.",
               max_km=500, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Poolbeg Energy Recovery Ltd", "IE", "38.21", "Aoife Kelly",
        (_site("Poolbeg Waste-to-Energy", "Dublin", "Pigeon House Road", 53.339, -6.190),),
        (
            _o("Incinerator bottom ash (IBA)", "190112", 80000, "t", "year", "waste",
               "Bottom ash from the grate furnace; today exported for treatment.",
               price="-40.00"),
            _o("District heat, up to 50 MW", "hot-water", 50, "MWh", "continuous", "product",
               "Heat from the waste-to-energy plant for the Dublin district heating scheme.",
               price="14.00"),
            _o("APC residues (flue-gas cleaning fly ash)", "190107", 15000, "t", "year", "waste",
               "Air-pollution-control residues, currently shipped to German salt mines.",
               form="powder", price="-150.00", list_class="amber"),
        ),
    ),
    OrgSpec(
        "Dublin Docklands District Heating DAC", "IE", "35.30", "Niamh Byrne",
        (_site("Docklands Energy Centre", "Dublin", "North Wall Quay 80", 53.345, -6.235),),
        (
            _d("Heat supply for the Docklands network", ("hot-water", "waste-heat-low"), 30, "MWh",
               "continuous",
               "Low-carbon heat at 90 °C for the Docklands and Poolbeg district heating network.",
               max_km=10, min_share=0.2),
        ),
    ),
    OrgSpec(
        "Leinster Animal Nutrition Ltd", "IE", "10.91", "Seán O'Brien",
        (_site("Dublin Port Feed Mill", "Dublin", "Alexandra Road 20", 53.350, -6.215),),
        (
            _d("Brewers' and distillers' grains for cattle feed", ("020799", "020702",
               "spent-grain"), 30000, "t", "year",
               "Wet and dried grains from breweries and distilleries for ruminant feed.",
               max_km=200, min_share=0.02),
            _d("Whey permeate for pig feed", ("020501", "whey"), 20000, "t", "year",
               "Liquid whey permeate for liquid feeding systems; tankers from Munster.",
               max_km=400, min_share=0.05),
        ),
    ),
    # --------------------------------------------------------------------------------- Cork (IE)
    OrgSpec(
        "Ringaskiddy Pharmaceuticals Ltd", "IE", "21.10", "Declan Walsh",
        (_site("Ringaskiddy API Plant", "Ringaskiddy", "Barnahely", 51.828, -8.315),),
        (
            _o("Spent solvents from API production (methanol, acetone)", "070504", 4000, "t",
               "year", "waste",
               "Halogen-free spent solvents, shipped in ISO tanks. Seeking solvent recovery on "
               "the continent instead of incineration.",
               form="liquid", price="-200.00", list_class="amber", basel_code="A3140"),
            _d("Steam from a neighbouring plant", ("steam",), 8, "MWh", "continuous",
               "Low-pressure steam to replace our gas boilers.",
               max_km=10, min_share=0.3),
        ),
    ),
    OrgSpec(
        "Whitegate Refining Ltd", "IE", "19.20", "Eoin Ryan",
        (_site("Whitegate Refinery", "Whitegate", "Corkbeg", 51.818, -8.250),),
        (
            _o("Spent FCC catalyst", "160804", 1000, "t", "year", "waste",
               "Equilibrium catalyst fines from the cracker, in big bags.",
               form="powder", price="-60.00", list_class="green", basel_code="GC050"),
            _o("Surplus low-pressure steam", "steam", 10, "MWh", "continuous", "product",
               "LP steam from the refinery utilities.",
               price="20.00"),
        ),
    ),
    OrgSpec(
        "Munster Dairy Co-operative Ltd", "IE", "10.51", "Máire Sullivan",
        (_site("Little Island Creamery", "Little Island", "Eastgate Road", 51.905, -8.355),),
        (
            _o("Whey permeate (6% DM)", "020501", 400, "m3", "day", "by_product",
               "Permeate from whey protein ultrafiltration, for feed or digestion.",
               category="whey", evidence="self_declared", form="liquid", price="3.00"),
            _o("Dairy effluent DAF sludge", "020502", 12000, "t", "year", "waste",
               "Sludge from dissolved-air flotation, fat-rich. For digestion or land spreading.",
               form="sludge", price="-25.00"),
        ),
    ),
    # ------------------------------------------------------------------- Humber and Teesside (GB)
    OrgSpec(
        "Ouse Valley Power Ltd", "GB", "35.11", "Gareth Hughes",
        (_site("Ouse Valley Power Station", "Selby", "New Road", 53.737, -0.997),),
        (
            _o("Biomass fly ash (wood pellets)", "100103", 60000, "t", "year", "waste",
               "Fly ash from wood-pellet combustion, high in lime and potash.",
               form="powder", price="-15.00"),
            _o("FGD gypsum", "100105", 90000, "t", "year", "by_product",
               "Desulphurisation gypsum, 95% purity, shipped from Immingham to continental "
               "plasterboard and cement plants.",
               price="2.00", can_deliver=True, list_class="green", basel_code="B2040"),
            _d("Grade A waste wood for co-firing", ("191207", "030105", "wood-chips",
               "waste-wood"), 200000, "t", "year",
               "Clean recovered wood chips and sawdust; imports via Hull welcome.",
               max_km=600, operation="R1", min_share=0.01),
        ),
    ),
    OrgSpec(
        "Trent Iron & Steel Ltd", "GB", "24.10", "Rhys Evans",
        (_site("Scunthorpe Works", "Scunthorpe", "Brigg Road", 53.585, -0.625),),
        (
            _o("Granulated blast-furnace slag (GBS)", "blast-furnace-slag", 400000, "t", "year",
               "product",
               "GBS for GGBS grinding, shipped through Immingham to the Netherlands and Belgium.",
               price="28.00", can_deliver=True),
            _o("BOS slag", "100202", 250000, "t", "year", "waste",
               "Basic oxygen steelmaking slag, processed to aggregate.",
               category="steel-slag", price="-4.00", list_class="green", basel_code="B1210"),
            _o("Mill scale", "100210", 15000, "t", "year", "waste",
               "Mill scale from the rod and section mills.",
               price="20.00"),
            _o("Zinc-bearing BOS dust", "100207", 10000, "t", "year", "waste",
               "Secondary dust from the BOS plant, 6-10% Zn.",
               form="powder", price="-85.00", list_class="amber"),
            _d("Ferrous scrap (HMS 1&2)", ("170405", "191202", "ferrous-scrap"), 200000, "t",
               "year",
               "Heavy melting scrap for the converters.",
               max_km=400, operation="R4", min_share=0.01),
            _d("Iron-rich residues for the sinter plant", ("100210", "mill-scale"), 30000, "t",
               "year",
               "Mill scale and iron-bearing fines for the sinter strand.",
               max_km=300, operation="R4", min_share=0.02),
        ),
    ),
    OrgSpec(
        "Humber Refining Ltd", "GB", "19.20", "Emma Clarke",
        (_site("South Killingholme Refinery", "South Killingholme", "Eastfield Road", 53.640,
               -0.255),),
        (
            _o("Spent FCC catalyst", "160804", 2500, "t", "year", "waste",
               "Equilibrium catalyst from the FCC, for cement kilns on the continent.",
               form="powder", price="-45.00", list_class="green", basel_code="GC050"),
            _o("Refinery CO2, liquefiable", "co2", 50000, "t", "year", "product",
               "CO2 from the hydrogen plant.",
               price="25.00"),
            _o("Low-grade heat from the crude unit coolers", "waste-heat-low", 15, "MWh",
               "continuous", "product",
               "Hot water at 70-80 °C from product coolers, today rejected to air fin coolers.",
               price="7.00"),
            _d("Used cooking oil for co-processing", ("200125", "used-cooking-oil"), 10000, "t",
               "year",
               "UCO for renewable diesel co-processing, ISCC certified.",
               max_km=400, operation="R3", min_share=0.05),
        ),
    ),
    OrgSpec(
        "Humber Waste Solutions Ltd", "GB", "38.21", "Oliver Wright",
        (_site("Hull Materials Recovery Facility", "Hull", "Hedon Road 400", 53.740, -0.280),),
        (
            _o("Refuse-derived fuel (RDF), baled and wrapped", "191210", 80000, "t", "year",
               "waste",
               "RDF from municipal and commercial waste, 14 MJ/kg, shipped from Hull to "
               "Dutch and German energy-from-waste plants.",
               price="-75.00", can_deliver=True),
            _o("Mixed-colour glass from kerbside collection", "191205", 15000, "t", "year",
               "waste",
               "Mixed glass for cullet processing.",
               category="glass-cullet", price="-5.00"),
        ),
    ),
    OrgSpec(
        "Killingholme Glasshouses Ltd", "GB", "01.13", "Jack Turner",
        (_site("Killingholme Nursery", "North Killingholme", "Chase Hill Road", 53.625,
               -0.290),),
        (
            _d("Low-grade heat for tomato glasshouses", ("waste-heat-low", "hot-water"), 10,
               "MWh", "continuous",
               "Hot water at 60 °C or more for 12 ha of tomatoes, replacing gas CHP.",
               max_km=12, min_share=0.25),
            _d("CO2 for crop enrichment", ("co2",), 5000, "t", "year",
               "Pipeline or liquid CO2, March to October.",
               max_km=150, min_share=0.1),
        ),
    ),
    OrgSpec(
        "Teesside Ammonia Ltd", "GB", "20.15", "Sarah Robinson",
        (_site("Billingham Works", "Billingham", "Chilton Avenue", 54.598, -1.278),),
        (
            _o("Food-grade CO2 (ISBT)", "co2", 120000, "t", "year", "product",
               "CO2 from ammonia production, liquefied to ISBT food grade. Supplies brewers "
               "and food processors.",
               price="40.00", can_deliver=True),
            _o("Low-grade heat, 60 °C", "waste-heat-low", 20, "MWh", "continuous", "product",
               "Cooling-water heat for glasshouses or a heat network.",
               price="6.00"),
        ),
    ),
    # -------------------------------------------------------------------------- Luxembourg (LU)
    OrgSpec(
        "Minett Acier SA", "LU", "24.10", "Luc Schmit",
        (_site("Aciérie électrique de Differdange", "Differdange", "Rue de l'Usine 1", 49.525,
               5.890),),
        (
            _o("Poussières d'aciérie électrique (EAF dust)", "100207", 20000, "t", "year",
               "waste",
               "EAF filter dust, 20-25% Zn. For Waelz kilns in Germany.",
               form="powder", price="-100.00", list_class="amber"),
            _o("Laitier noir d'aciérie électrique (EAF slag)", "100202", 90000, "t", "year",
               "by_product",
               "Black EAF slag processed into aggregates for asphalt.",
               category="steel-slag", price="1.00"),
            _d("Ferraille triée (sorted steel scrap)", ("170405", "191202", "ferrous-scrap"),
               700000, "t", "year",
               "Steel scrap for the electric arc furnaces.",
               max_km=400, operation="R4", min_share=0.005),
        ),
    ),
    OrgSpec(
        "Minett Ciment SA", "LU", "23.51", "Carole Weber",
        (_site("Cimenterie de Rumelange", "Rumelange", "Route de Kayl", 49.465, 6.030),),
        (
            _d("Laitier granulé de haut fourneau", ("blast-furnace-slag",), 200000, "t", "year",
               "Granulated slag for slag cements, by rail or Moselle barge.",
               max_km=400, min_share=0.05),
            _d("Gypse de désulfuration", ("100105", "fgd-gypsum"), 10000, "t", "year",
               "FGD gypsum as set regulator.",
               max_km=300, operation="R5", min_share=0.1),
        ),
    ),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class PlannedSite:
    spec: SiteSpec
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PlannedListing:
    spec: OfferSpec | DemandSpec
    ref: str
    quantity: Decimal
    quantity_min: Decimal | None
    available_from: datetime.date
    available_until: datetime.date | None


@dataclass(frozen=True, slots=True)
class PlannedOrganization:
    spec: OrgSpec
    ref: str
    email: str
    phone: str
    sites: tuple[PlannedSite, ...]
    listings: tuple[PlannedListing, ...]


def demo_plan(*, seed: int = 2026) -> tuple[PlannedOrganization, ...]:
    """Everything the seed varies, as a pure function of the seed: no database, no clock.

    `random.Random(seed)` varies quantities by up to ±15%, start dates by up to 45 days and
    coordinates by up to ±0.002° (about 200 m); it is drawn in the fixed order of ORGANIZATIONS.
    """
    rng = random.Random(seed)  # noqa: S311 -- reproducible demo variation, not cryptography
    plan: list[PlannedOrganization] = []
    offers = demands = 0
    for index, spec in enumerate(ORGANIZATIONS, start=1):
        sites = tuple(
            PlannedSite(
                spec=site,
                lat=round(site.lat + rng.uniform(-0.002, 0.002), 5),
                lon=round(site.lon + rng.uniform(-0.002, 0.002), 5),
            )
            for site in spec.sites
        )
        listings: list[PlannedListing] = []
        for listing in spec.listings:
            if isinstance(listing, OfferSpec):
                offers += 1
                ref = f"{REF_PREFIX}O-{offers:03d}"
            else:
                demands += 1
                ref = f"{REF_PREFIX}D-{demands:03d}"
            quantity = _vary(rng, listing.quantity)
            available_from = DEMO_EPOCH + datetime.timedelta(
                days=listing.start + rng.randint(0, 45)
            )
            listings.append(
                PlannedListing(
                    spec=listing,
                    ref=ref,
                    quantity=quantity,
                    quantity_min=(
                        _share(quantity, listing.min_share)
                        if isinstance(listing, DemandSpec)
                        else None
                    ),
                    available_from=available_from,
                    available_until=(
                        available_from + datetime.timedelta(days=30 * listing.months)
                        if listing.months is not None
                        else None
                    ),
                )
            )
        plan.append(
            PlannedOrganization(
                spec=spec,
                ref=f"{REF_PREFIX}ORG-{index:03d}",
                email=f"{_email_local(spec.contact)}@example.com",
                phone=f"{PHONE_PREFIX[spec.country]} 555 {index:04d}",
                sites=sites,
                listings=tuple(listings),
            )
        )
    return tuple(plan)


@transaction.atomic
def demo_seed(*, seed: int = 2026) -> DemoSummary:
    """Create the demo network: users, organisations, sites and published listings.

    Idempotent: when demo data is already there (an organisation whose ref starts with "DEMO-")
    it does nothing and says so. Writes through the listings services in one transaction, so
    the matching tasks that publishing queues run after commit. Needs the reference data.
    """
    if demo_exists():
        return demo_summary(created=False)
    users = _users_create()
    lookups = _Lookups.load()
    for planned in demo_plan(seed=seed):
        spec = planned.spec
        country = lookups.countries[spec.country]
        organization = organization_create(
            name=spec.name,
            country=country,
            nace=lookups.naces[spec.nace],
            ref=planned.ref,
            contact_name=spec.contact,
            contact_email=planned.email,
            contact_phone=planned.phone,
        )
        organization_verify(organization=organization, by=users["admin"])
        if spec.user:
            membership_add(
                organization=organization, user=users[spec.user], role=Membership.Role.ADMIN
            )
        sites = [
            site_create(
                organization=organization,
                name=site.spec.name,
                country=country,
                lat=site.lat,
                lon=site.lon,
                city=site.spec.city,
                address=site.spec.address,
            )
            for site in planned.sites
        ]
        for listing in planned.listings:
            site = sites[listing.spec.site]
            if isinstance(listing.spec, OfferSpec):
                _offer_create(listing, listing.spec, organization, site, lookups)
            else:
                _demand_create(listing, listing.spec, organization, site, lookups)
    _facilitators_assign(users)
    return demo_summary(created=True)


def demo_exists() -> bool:
    return Organization.objects.filter(ref__startswith=REF_PREFIX).exists()


@transaction.atomic
def demo_reset() -> int:
    """Delete the demo organisations (ref "DEMO-…", with their sites, listings and matches) and
    the demo users. Returns the number of organisations deleted."""
    organizations = Organization.objects.filter(ref__startswith=REF_PREFIX)
    count = organizations.count()
    Offer.objects.filter(organization__in=organizations).delete()
    Demand.objects.filter(organization__in=organizations).delete()
    organizations.delete()
    User.objects.filter(username__in=DEMO_USERNAMES).delete()
    return count


def demo_summary(*, created: bool) -> DemoSummary:
    organizations = Organization.objects.filter(ref__startswith=REF_PREFIX)
    return DemoSummary(
        created=created,
        organizations=organizations.count(),
        countries=organizations.values("country").distinct().count(),
        sites=Site.objects.filter(organization__ref__startswith=REF_PREFIX).count(),
        offers=Offer.objects.filter(ref__startswith=REF_PREFIX).count(),
        demands=Demand.objects.filter(ref__startswith=REF_PREFIX).count(),
        users=tuple(
            User.objects.filter(username__in=DEMO_USERNAMES)
            .order_by("username")
            .values_list("username", flat=True)
        ),
    )


def _users_create() -> dict[str, User]:
    # One hash per password: the demo logins are published, and hashing once per user would
    # cost a second or two of PBKDF2 on every `make run`.
    demo_hash = make_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    users["admin"] = _user_upsert(
        "admin", "Site", "Administrator", make_password(ADMIN_PASSWORD), staff=True,
        superuser=True,
    )  # fmt: skip
    for username, (first, last, _regions) in FACILITATORS.items():
        users[username] = _user_upsert(username, first, last, demo_hash)
    for username, (first, last) in COMPANY_USERS.items():
        users[username] = _user_upsert(username, first, last, demo_hash)
    return users


def _user_upsert(
    username: str,
    first_name: str,
    last_name: str,
    password_hash: str,
    *,
    staff: bool = False,
    superuser: bool = False,
) -> User:
    user, _ = User.objects.get_or_create(username=username)
    user.first_name, user.last_name = first_name, last_name
    user.email = f"{username}@example.com"
    user.is_staff, user.is_superuser, user.is_active = staff, superuser, True
    user.password = password_hash
    user.save()
    return user


def _facilitators_assign(users: dict[str, User]) -> None:
    for username, (_first, _last, region_codes) in FACILITATORS.items():
        for region in HarborRegion.objects.filter(code__in=region_codes).order_by("code"):
            region.facilitators.add(users[username])


def _email_local(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = [p for p in ascii_name.lower().replace("'", "").split() if p]
    return f"{parts[0]}.{''.join(parts[1:])}"


def _category_prefixes(categories: dict[str, MaterialCategory]) -> dict[str, MaterialCategory]:
    prefixes: dict[str, MaterialCategory] = {}
    for slug in sorted(categories):
        for prefix in categories[slug].low_prefixes.split():
            prefixes[prefix] = categories[slug]
    return prefixes


def _is_code(material: str) -> bool:
    return material.isdigit() and len(material) == 6


def _vary(rng: random.Random, value: float, spread: float = 0.15) -> Decimal:
    """The value times a factor in [1 - spread, 1 + spread], to three significant digits."""
    return _three_digits(value * rng.uniform(1 - spread, 1 + spread))


def _share(quantity: Decimal, share: float) -> Decimal | None:
    least = min(quantity, _three_digits(float(quantity) * share))
    return least if least > 0 else None


def _three_digits(value: float) -> Decimal:
    return Decimal(f"{value:.3g}").quantize(Decimal("0.001"))


@dataclass(frozen=True, slots=True)
class _Lookups:
    """Reference rows by natural key, read once per seed."""

    categories: dict[str, MaterialCategory]
    prefixes: dict[str, MaterialCategory]
    codes: dict[str, WasteCode]
    operations: dict[str, Operation]
    countries: dict[str, Country]
    naces: dict[str, NaceCode]

    @classmethod
    def load(cls) -> _Lookups:
        categories = {c.slug: c for c in MaterialCategory.objects.all()}
        return cls(
            categories=categories,
            prefixes=_category_prefixes(categories),
            codes={c.code: c for c in WasteCode.objects.all()},
            operations={o.code: o for o in Operation.objects.all()},
            countries={c.code: c for c in Country.objects.all()},
            naces={n.code: n for n in NaceCode.objects.filter(version=NaceCode.Version.REV2)},
        )

    def category_for_code(self, code: str) -> MaterialCategory | None:
        """The category whose List of Waste prefix matches the code longest."""
        for length in (6, 4, 2):
            if code[:length] in self.prefixes:
                return self.prefixes[code[:length]]
        return None


def _offer_create(
    planned: PlannedListing,
    spec: OfferSpec,
    organization: Organization,
    site: Site,
    lookups: _Lookups,
) -> None:
    code = lookups.codes[spec.material] if _is_code(spec.material) else None
    if spec.category:
        category: MaterialCategory | None = lookups.categories[spec.category]
    elif code is not None:
        category = lookups.category_for_code(code.code)
    else:
        category = lookups.categories[spec.material]
    resource_type = category.resource_type if category else ResourceType.MATERIAL
    listing_create(
        model=Offer,
        organization=organization,
        site=site,
        publish=True,
        ref=planned.ref,
        title=spec.title,
        description=spec.description,
        resource_type=resource_type,
        category=category,
        waste_code=code,
        quantity=planned.quantity,
        unit=spec.unit,
        frequency=spec.frequency,
        available_from=planned.available_from,
        available_until=planned.available_until,
        waste_status=spec.waste_status,
        status_evidence=spec.evidence or EVIDENCE_FOR_STATUS[spec.waste_status],
        list_class=spec.list_class,
        basel_code=spec.basel_code,
        hazardous=bool(code and code.hazardous),
        physical_form=spec.form or _physical_form(category),
        price_eur_per_unit=Decimal(spec.price) if spec.price is not None else None,
        can_deliver=spec.can_deliver,
    )


def _physical_form(category: MaterialCategory | None) -> str:
    if category is None:
        return Offer.PhysicalForm.SOLID
    if category.slug == "cold":
        return ""  # no form fits a cold loop
    if category.slug in GAS_CATEGORIES:
        return Offer.PhysicalForm.GAS
    return ENERGY_FORMS.get(category.resource_type, Offer.PhysicalForm.SOLID)


def _demand_create(
    planned: PlannedListing,
    spec: DemandSpec,
    organization: Organization,
    site: Site,
    lookups: _Lookups,
) -> None:
    accepted_codes = [lookups.codes[a] for a in spec.accepts if _is_code(a)]
    accepted_categories = [lookups.categories[a] for a in spec.accepts if not _is_code(a)]
    primary = spec.accepts[0]
    code = lookups.codes[primary] if _is_code(primary) else None
    if code is None:
        category: MaterialCategory | None = lookups.categories[primary]
    elif accepted_categories:
        category = accepted_categories[0]
    else:
        category = lookups.category_for_code(primary)
    listing_create(
        model=Demand,
        organization=organization,
        site=site,
        publish=True,
        accepted_codes=accepted_codes,
        accepted_categories=accepted_categories,
        ref=planned.ref,
        title=spec.title,
        description=spec.description,
        resource_type=category.resource_type if category else ResourceType.MATERIAL,
        category=category,
        waste_code=code,
        quantity=planned.quantity,
        quantity_min=planned.quantity_min,
        unit=spec.unit,
        frequency=spec.frequency,
        available_from=planned.available_from,
        available_until=planned.available_until,
        max_distance_km=spec.max_km,
        operation=lookups.operations[spec.operation] if spec.operation else None,
        has_permit=bool(spec.operation),
        accepts_hazardous=spec.hazardous,
    )
