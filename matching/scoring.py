"""Pure scoring of an offer (a residue) against a demand (an input).

Standard library, NumPy and SciPy only: no Django, no I/O, no clock, no randomness. Time arrives
as the ``today`` argument. Every stored score records ``SCORING_VERSION``.

The formula in words
--------------------
A pair first passes the **hard filters**. Each one sets a component to 0, and ``vetoed_by``
names the first that failed, in this order: ``resource_type`` (material, energy and water never
mix; material component 0), ``unit`` (the base units differ; quantity 0), ``material`` (nothing
links the two materials, or only a weak link does and they are more than 50 km apart, see
below; material 0), ``distance`` (the route is longer than the demand's maximum, by default
500 km for material, 50 km for water and 10 km for energy, because heat and steam go a few km;
distance 0), ``hazardous`` (a hazardous offer goes only to a demand that accepts hazardous
material *and* holds a permit; legal 0), ``legal`` (the shipment is prohibited; legal 0),
``expired`` (the offer's window ended before today; timing 0) and ``timing`` (the windows, both
cut to start today, do not overlap; timing 0).

Then five **components**, each in [0, 1]:

* *material*: the strongest structural link, with the description similarity blended in.
  By List of Waste code: the same code 1.0; the offer's code is one the demand accepts 0.95;
  the offer's code falls under a 2- or 4-digit prefix the demand accepts 0.8; the same
  sub-chapter (4 digits) 0.75; the same chapter (2 digits) 0.4, but neither counts when both
  listings have a category path and the paths differ at the top level (a sub-chapter names the
  source process, not the material: 19 12 05 glass and 19 12 02 ferrous metal share 19 12, yet
  glass is not metal). By category path (root to
  leaf): the same leaf 0.9; one category contains the other, or the demand accepts a category on
  the offer's path, 0.8; siblings below the top level (a common prefix of 2 or more) 0.6; the
  same top-level family 0.35. By thesaurus concept: if the listings share a concept and the
  Jaccard index J of their concept sets is at least 0.2, 0.7 + 0.2 J. The structural score is
  the maximum of these. A description similarity t of at least 0.3 can stand on its own at
  0.8 t. With ``base`` the larger of the two, material is ``base + 0.2 t (1 - base)`` (text
  lifts a link, never creates one below 0.3), and 0 when ``base`` is 0.
  *Weak links count only nearby.* The same chapter and the same family are weak evidence (a
  chapter is the source industry, not the material: 19 12 04 plastics and 19 08 05 sewage sludge
  share chapter 19). When no stronger rule links the pair (no code, sub-chapter, accepted code
  or category, category branch or concept), material is 0 beyond 50 km, where most synergies
  happen, whatever the text similarity says.
* *quantity*: the coverage c = min(offer, demand) / demand scores sqrt(c); below 2 % of the
  demand it falls further in proportion (c / 0.02: not worth a truck); an offer below the
  demand's stated minimum halves it.
* *distance*: exp(-km / scale), 1 at 0 km and never increasing, with a scale of 150 km for
  material, 20 km for water and 3 km for energy (the demand's resource type).
* *legal*: the legal score of the shipment procedure (1 = no procedure, 0 = prohibited),
  computed outside; 0 for a hazardous offer the demand may not take.
* *timing*: exp(-days until both are available / 365); 1 when both are available today.

The **score** is the weighted geometric mean of the components (material 0.35, distance 0.25,
quantity 0.15, legal 0.15, timing 0.10), so a single 0 vetoes the pair.

Two forms compute the same thing: ``score_pair`` is the readable specification; ``score_matrix``
(and the flat ``score_pairs`` the candidate engine uses) is the vectorised form, and a test holds
them equal to 1e-9 on every component.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import sparse

SCORING_VERSION: Final = "2026.11.2"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

EARTH_RADIUS_KM: Final = 6371.0088  # IUGG mean Earth radius


class ResourceType(StrEnum):
    MATERIAL = "material"
    ENERGY = "energy"
    WATER = "water"


class BaseUnit(StrEnum):
    TONNE = "t"
    CUBIC_METRE = "m3"
    MEGAWATT_HOUR = "MWh"


class Veto(StrEnum):
    """Hard filters, in the order ``vetoed_by`` reports them."""

    RESOURCE_TYPE = "resource_type"
    UNIT = "unit"
    MATERIAL = "material"
    DISTANCE = "distance"
    HAZARDOUS = "hazardous"
    LEGAL = "legal"
    EXPIRED = "expired"
    TIMING = "timing"


class MaterialRule(StrEnum):
    """Which rule gave the material score (strongest first; ties go to the earlier rule)."""

    SAME_CODE = "same_code"
    ACCEPTED_CODE = "accepted_code"
    ACCEPTED_PREFIX = "accepted_prefix"
    SAME_SUBCHAPTER = "same_subchapter"
    SAME_CHAPTER = "same_chapter"
    SAME_CATEGORY = "same_category"
    PARENT_CATEGORY = "parent_category"
    ACCEPTED_CATEGORY = "accepted_category"
    SAME_BRANCH = "same_branch"
    SAME_FAMILY = "same_family"
    SYNONYM = "synonym"
    SIMILAR_TEXT = "similar_text"
    NONE = "none"


_RESOURCE_CODES: Final[tuple[ResourceType, ...]] = tuple(ResourceType)
_UNIT_CODES: Final[tuple[BaseUnit, ...]] = tuple(BaseUnit)
_RESOURCE_INDEX: Final[Mapping[str, int]] = {str(r): n for n, r in enumerate(_RESOURCE_CODES)}
_UNIT_INDEX: Final[Mapping[str, int]] = {str(u): n for n, u in enumerate(_UNIT_CODES)}

DEFAULT_MAX_DISTANCE_KM: Final[Mapping[str, float]] = {
    ResourceType.MATERIAL: 500.0,  # bulk materials travel hundreds of km
    ResourceType.WATER: 50.0,  # water tens of km
    ResourceType.ENERGY: 10.0,  # heat and steam go a few km
}
DISTANCE_SCALE_KM: Final[Mapping[str, float]] = {
    ResourceType.MATERIAL: 150.0,
    ResourceType.WATER: 20.0,
    ResourceType.ENERGY: 3.0,
}

# Material rule scores.
SAME_CODE: Final = 1.0
ACCEPTED_CODE: Final = 0.95
ACCEPTED_PREFIX: Final = 0.8
SAME_SUBCHAPTER: Final = 0.75
SAME_CHAPTER: Final = 0.4
SAME_CATEGORY: Final = 0.9
PARENT_CATEGORY: Final = 0.8
ACCEPTED_CATEGORY: Final = 0.8
SAME_BRANCH: Final = 0.6
SAME_FAMILY: Final = 0.35
WEAK_LINK_MAX_KM: Final = 50.0  # chapter or family alone counts only this close
_WEAK_RULES: Final = frozenset({"same_chapter", "same_family"})
CONCEPT_MIN_JACCARD: Final = 0.2
CONCEPT_BASE: Final = 0.7
CONCEPT_SPAN: Final = 0.2
TEXT_MIN: Final = 0.3  # below this, text only lifts a structural link
TEXT_WEIGHT: Final = 0.8  # text alone reaches at most 0.8
TEXT_BOOST: Final = 0.2  # share of the remaining gap text can close

# Quantity.
TINY_SHARE: Final = 0.02  # below 2 % of the demand: not worth a truck
BELOW_MINIMUM_FACTOR: Final = 0.5

# Timing.
TIMING_DECAY_DAYS: Final = 365.0

MAX_CATEGORY_DEPTH: Final = 15
MAX_CONCEPTS: Final = 255

_NO_DAY: Final = 1 << 40  # sentinel ordinal for an open window end
_CODE_RE: Final = re.compile(r"\d{6}")
_PREFIX_RE: Final = re.compile(r"\d{2}|\d{4}|\d{6}")


@dataclass(frozen=True, slots=True)
class Weights:
    """Exponents of the weighted geometric mean. Each must be > 0; they are normalised."""

    material: float = 0.35
    distance: float = 0.25
    quantity: float = 0.15
    legal: float = 0.15
    timing: float = 0.10

    def __post_init__(self) -> None:
        for name in ("material", "distance", "quantity", "legal", "timing"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"weight {name} must be a positive number, got {value!r}")

    def normalised(self) -> tuple[float, float, float, float, float]:
        """(material, quantity, distance, legal, timing), summing to 1."""
        total = self.material + self.quantity + self.distance + self.legal + self.timing
        return (
            self.material / total,
            self.quantity / total,
            self.distance / total,
            self.legal / total,
            self.timing / total,
        )


DEFAULT_WEIGHTS: Final = Weights()


# --------------------------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------------------------


def normalize_low_code(raw: str) -> str:
    """``"10 01 02*"`` → ``"100102"``; also accepts 2- and 4-digit prefixes. Raises ValueError."""
    code = raw.replace(" ", "").replace("*", "").strip()
    if code and not _PREFIX_RE.fullmatch(code):
        raise ValueError(f"not a List of Waste code or prefix: {raw!r}")
    return code


def format_low_code(code: str) -> str:
    """``"100102"`` → ``"10 01 02"``."""
    return " ".join(code[i : i + 2] for i in range(0, len(code), 2))


def _validate_listing(p: ListingProfile) -> None:
    if p.resource_type not in _RESOURCE_CODES:
        raise ValueError(f"listing {p.id}: unknown resource type {p.resource_type!r}")
    if p.base_unit not in _UNIT_CODES:
        raise ValueError(f"listing {p.id}: unknown base unit {p.base_unit!r}")
    if p.low_code and not _CODE_RE.fullmatch(p.low_code):
        raise ValueError(f"listing {p.id}: low_code must be 6 digits or empty, got {p.low_code!r}")
    if len(p.category_path) > MAX_CATEGORY_DEPTH or any(not s for s in p.category_path):
        raise ValueError(f"listing {p.id}: bad category path {p.category_path!r}")
    if len(p.concepts) > MAX_CONCEPTS:
        raise ValueError(f"listing {p.id}: more than {MAX_CONCEPTS} concepts")
    if not (math.isfinite(p.annual_quantity) and p.annual_quantity > 0):
        raise ValueError(f"listing {p.id}: annual_quantity must be > 0")
    if not (-90.0 <= p.lat <= 90.0 and -180.0 <= p.lon <= 180.0):
        raise ValueError(f"listing {p.id}: coordinates out of range")
    if (
        p.available_from is not None
        and p.available_until is not None
        and p.available_from > p.available_until
    ):
        raise ValueError(f"listing {p.id}: available_from is after available_until")


@dataclass(frozen=True, slots=True, kw_only=True)
class ListingProfile:
    """What scoring needs of an offer or a demand. Quantities are per year in the base unit."""

    id: int
    resource_type: str
    low_code: str = ""
    category_path: tuple[str, ...] = ()
    concepts: frozenset[str] = frozenset()
    annual_quantity: float
    base_unit: str
    lat: float
    lon: float
    available_from: date | None = None
    available_until: date | None = None

    def __post_init__(self) -> None:
        _validate_listing(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferProfile(ListingProfile):
    hazardous: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandProfile(ListingProfile):
    accepted_codes: frozenset[str] = frozenset()  # 6-digit codes or 2/4-digit prefixes
    accepted_categories: frozenset[str] = frozenset()  # slugs; a slug accepts its descendants
    annual_quantity_min: float | None = None
    max_distance_km: float | None = None  # None: DEFAULT_MAX_DISTANCE_KM[resource_type]
    accepts_hazardous: bool = False
    has_permit: bool = False

    def __post_init__(self) -> None:
        _validate_listing(self)
        for code in self.accepted_codes:
            if not _PREFIX_RE.fullmatch(code):
                raise ValueError(f"demand {self.id}: bad accepted code {code!r}")
        if self.max_distance_km is not None and not self.max_distance_km >= 0:
            raise ValueError(f"demand {self.id}: max_distance_km must be >= 0")
        if self.annual_quantity_min is not None and not self.annual_quantity_min >= 0:
            raise ValueError(f"demand {self.id}: annual_quantity_min must be >= 0")

    @property
    def max_km(self) -> float:
        """The demand's maximum distance, or the default for its resource type."""
        if self.max_distance_km is not None:
            return self.max_distance_km
        return DEFAULT_MAX_DISTANCE_KM[self.resource_type]


@dataclass(frozen=True, slots=True)
class PairContext:
    """What is computed outside the pure code for one pair."""

    distance_km: float
    transport_mode: str = "road"
    legal_score: float = 1.0  # 0 = prohibited
    legal_label: str = ""  # e.g. "BE→NL green-listed: Annex VII document"
    text_similarity: float = 0.0


@dataclass(frozen=True, slots=True)
class PairScore:
    score: float
    material: float
    quantity: float
    distance: float
    legal: float
    timing: float
    vetoed_by: str | None
    explanation: str


@dataclass(frozen=True, slots=True)
class MaterialMatch:
    score: float
    rule: MaterialRule
    detail: str  # the code, prefix, slug(s) or concepts that the rule used
    strong: bool = False  # a rule other than same chapter / same family fired


# --------------------------------------------------------------------------------------------
# The readable specification
# --------------------------------------------------------------------------------------------


def _unit_interval(value: float) -> float:
    return 0.0 if math.isnan(value) else min(1.0, max(0.0, value))


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _code_rules(offer: OfferProfile, demand: DemandProfile) -> list[MaterialMatch]:
    """Every rule of the codes and categories that fires, in rule order."""
    rules: list[MaterialMatch] = []
    oc, dc = offer.low_code, demand.low_code
    op, dp = offer.category_path, demand.category_path
    # Known categories of different families overrule a shared sub-chapter or chapter.
    code_family_ok = not (op and dp and op[0] != dp[0])
    if oc:
        if oc == dc:
            rules.append(MaterialMatch(SAME_CODE, MaterialRule.SAME_CODE, oc))
        if oc in demand.accepted_codes:
            rules.append(MaterialMatch(ACCEPTED_CODE, MaterialRule.ACCEPTED_CODE, oc))
        for prefix in (oc[:4], oc[:2]):
            if prefix in demand.accepted_codes:
                rules.append(MaterialMatch(ACCEPTED_PREFIX, MaterialRule.ACCEPTED_PREFIX, prefix))
                break
        if dc and code_family_ok and oc[:4] == dc[:4]:
            rules.append(MaterialMatch(SAME_SUBCHAPTER, MaterialRule.SAME_SUBCHAPTER, oc[:4]))
        if dc and code_family_ok and oc[:2] == dc[:2]:
            rules.append(MaterialMatch(SAME_CHAPTER, MaterialRule.SAME_CHAPTER, oc[:2]))
    common = _common_prefix(op, dp)
    if common and common == len(op) == len(dp):
        rules.append(MaterialMatch(SAME_CATEGORY, MaterialRule.SAME_CATEGORY, op[-1]))
    elif common and common == min(len(op), len(dp)):
        outer, inner = (op, dp) if len(op) < len(dp) else (dp, op)
        detail = f"{outer[-1]} includes {inner[-1]}"
        rules.append(MaterialMatch(PARENT_CATEGORY, MaterialRule.PARENT_CATEGORY, detail))
    elif common >= 2:
        detail = f"{op[-1]} and {dp[-1]} ({op[common - 1]})"
        rules.append(MaterialMatch(SAME_BRANCH, MaterialRule.SAME_BRANCH, detail))
    accepted = [slug for slug in op if slug in demand.accepted_categories]
    if accepted:
        rules.append(MaterialMatch(ACCEPTED_CATEGORY, MaterialRule.ACCEPTED_CATEGORY, accepted[-1]))
    if common:
        rules.append(MaterialMatch(SAME_FAMILY, MaterialRule.SAME_FAMILY, op[0]))
    return rules


def code_match(offer: OfferProfile, demand: DemandProfile) -> MaterialMatch:
    """``structural_match`` without the concepts: the strongest rule of the codes and
    categories (``strong`` as there). Reads the codes, category paths and accepted codes and
    categories only, so that callers may memoise it on them."""
    best = MaterialMatch(0.0, MaterialRule.NONE, "")
    rules = _code_rules(offer, demand)
    for rule in rules:
        if rule.score > best.score:
            best = rule
    strong = any(rule.rule not in _WEAK_RULES for rule in rules)
    return MaterialMatch(best.score, best.rule, best.detail, strong)


def concept_match(offer: frozenset[str], demand: frozenset[str]) -> MaterialMatch | None:
    """The synonym rule of two sets of thesaurus concepts, if it fires."""
    shared = offer & demand
    if not shared:
        return None
    jaccard = len(shared) / len(offer | demand)
    if jaccard < CONCEPT_MIN_JACCARD:
        return None
    score = CONCEPT_BASE + CONCEPT_SPAN * jaccard
    return MaterialMatch(score, MaterialRule.SYNONYM, ", ".join(sorted(shared)))


def with_concepts(codes: MaterialMatch, concepts: MaterialMatch | None) -> MaterialMatch:
    """``structural_match`` from its two parts: the synonym rule comes last in rule order, so
    it wins only with a higher score."""
    if concepts is None:
        return codes
    strong = codes.strong or MaterialRule.SYNONYM not in _WEAK_RULES
    best = concepts if concepts.score > codes.score else codes
    return MaterialMatch(best.score, best.rule, best.detail, strong)


def structural_match(offer: OfferProfile, demand: DemandProfile) -> MaterialMatch:
    """The strongest structural rule (no text), with ``strong`` set if any rule other than
    the same chapter or family fired. It reads only the material fields of the two profiles
    (resource type, code, category path, concepts, accepted codes and categories), so callers
    may memoise it on them; ``code_match`` and ``concept_match`` are its two parts, for
    callers that memoise them apart (``with_concepts`` puts them together)."""
    if offer.resource_type != demand.resource_type:
        return MaterialMatch(0.0, MaterialRule.NONE, "")
    return with_concepts(code_match(offer, demand), concept_match(offer.concepts, demand.concepts))


def material_match(
    offer: OfferProfile,
    demand: DemandProfile,
    text_similarity: float = 0.0,
    *,
    structural: MaterialMatch | None = None,
) -> MaterialMatch:
    """The material component and the rule that gave it (see the module docstring).
    ``structural``: ``structural_match(offer, demand)``, if the caller has it already."""
    if offer.resource_type != demand.resource_type:
        return MaterialMatch(0.0, MaterialRule.NONE, "")
    found = structural_match(offer, demand) if structural is None else structural
    t = _unit_interval(text_similarity)
    best, strong = MaterialMatch(found.score, found.rule, found.detail), found.strong
    text_alone = TEXT_WEIGHT * t if t >= TEXT_MIN else 0.0
    if text_alone > best.score:
        best = MaterialMatch(text_alone, MaterialRule.SIMILAR_TEXT, f"{t:.2f}")
    if best.score <= 0.0:
        return best
    base = best.score
    return MaterialMatch(base + TEXT_BOOST * t * (1.0 - base), best.rule, best.detail, strong)


def weak_link_too_far(match: MaterialMatch, distance_km: float) -> bool:
    """A link without strong evidence counts only within WEAK_LINK_MAX_KM."""
    return match.score > 0 and not match.strong and not distance_km <= WEAK_LINK_MAX_KM


def quantity_score(offer: ListingProfile, demand: DemandProfile) -> float:
    """sqrt(coverage), scaled down below 2 % of the demand and halved below its minimum."""
    if offer.base_unit != demand.base_unit:
        return 0.0
    coverage = min(offer.annual_quantity, demand.annual_quantity) / demand.annual_quantity
    q = math.sqrt(coverage) * min(1.0, coverage / TINY_SHARE)
    if (
        demand.annual_quantity_min is not None
        and offer.annual_quantity < demand.annual_quantity_min
    ):
        q *= BELOW_MINIMUM_FACTOR
    return q


def distance_score(distance_km: float, resource_type: str, max_km: float) -> float:
    """exp(-km / scale) within the demand's maximum distance, else 0."""
    if not (math.isfinite(distance_km) and distance_km <= max_km):
        return 0.0
    return math.exp(-max(distance_km, 0.0) / DISTANCE_SCALE_KM[resource_type])


def _ordinal(day: date | None, open_end: int) -> int:
    return open_end if day is None else day.toordinal()


def timing_score(offer: ListingProfile, demand: ListingProfile, today: date) -> float:
    """exp(-days until both are available / 365); 0 if expired or the windows miss each other."""
    t0 = today.toordinal()
    o_until = _ordinal(offer.available_until, _NO_DAY)
    if o_until < t0:
        return 0.0
    start = max(
        t0, _ordinal(offer.available_from, -_NO_DAY), _ordinal(demand.available_from, -_NO_DAY)
    )
    end = min(o_until, _ordinal(demand.available_until, _NO_DAY))
    if start > end:
        return 0.0
    return math.exp(-(start - t0) / TIMING_DECAY_DAYS)


def _hazard_blocked(offer: OfferProfile, demand: DemandProfile) -> bool:
    return offer.hazardous and not (demand.accepts_hazardous and demand.has_permit)


def combine(
    material: float,
    quantity: float,
    distance: float,
    legal: float,
    timing: float,
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """Weighted geometric mean; any 0 gives 0."""
    parts = (material, quantity, distance, legal, timing)
    if min(parts) <= 0.0:
        return 0.0
    return math.exp(sum(w * math.log(c) for w, c in zip(weights.normalised(), parts, strict=True)))


def score_pair(
    offer: OfferProfile,
    demand: DemandProfile,
    ctx: PairContext,
    *,
    today: date,
    weights: Weights = DEFAULT_WEIGHTS,
    subchapter_titles: Mapping[str, str] | None = None,
) -> PairScore:
    """Score one pair, with its explanation. The readable specification of ``score_matrix``."""
    match = material_match(offer, demand, ctx.text_similarity)
    material = 0.0 if weak_link_too_far(match, ctx.distance_km) else match.score
    quantity = quantity_score(offer, demand)
    distance = distance_score(ctx.distance_km, demand.resource_type, demand.max_km)
    hazard_blocked = _hazard_blocked(offer, demand)
    legal = 0.0 if hazard_blocked else _unit_interval(ctx.legal_score)
    timing = timing_score(offer, demand, today)
    expired = offer.available_until is not None and offer.available_until < today
    failed = (
        (Veto.RESOURCE_TYPE, offer.resource_type != demand.resource_type),
        (Veto.UNIT, quantity == 0.0),
        (Veto.MATERIAL, material == 0.0),
        (Veto.DISTANCE, distance == 0.0),
        (Veto.HAZARDOUS, hazard_blocked),
        (Veto.LEGAL, legal == 0.0),
        (Veto.EXPIRED, expired),
        (Veto.TIMING, timing == 0.0),
    )
    vetoed_by = next((str(name) for name, hit in failed if hit), None)
    score = combine(material, quantity, distance, legal, timing, weights)
    partial = PairScore(score, material, quantity, distance, legal, timing, vetoed_by, "")
    explanation = explain(offer, demand, ctx, partial, subchapter_titles=subchapter_titles)
    return PairScore(score, material, quantity, distance, legal, timing, vetoed_by, explanation)


# --------------------------------------------------------------------------------------------
# Explanations (only for kept pairs)
# --------------------------------------------------------------------------------------------


def _title(code: str, titles: Mapping[str, str] | None) -> str:
    if not titles or code not in titles:
        return ""
    text = titles[code].strip()
    return f" ({text[:1].lower()}{text[1:]})" if text else ""


def describe_material(
    offer: OfferProfile,
    demand: DemandProfile,
    text_similarity: float = 0.0,
    *,
    subchapter_titles: Mapping[str, str] | None = None,
    structural: MaterialMatch | None = None,
) -> str:
    """Which rule gave the material score, in plain words.

    ``subchapter_titles`` maps 4-digit sub-chapter codes (and optionally 2-digit chapters) to
    their List of Waste titles; without it only the codes are named. ``structural``: see
    ``material_match``.
    """
    return describe_rule(
        material_match(offer, demand, text_similarity, structural=structural),
        subchapter_titles=subchapter_titles,
    )


def describe_rule(
    match: MaterialMatch, *, subchapter_titles: Mapping[str, str] | None = None
) -> str:
    """The words of ``describe_material`` for a material match already made."""
    detail = match.detail
    match match.rule:
        case MaterialRule.SAME_CODE:
            return f"same code {format_low_code(detail)}"
        case MaterialRule.ACCEPTED_CODE:
            return f"accepted code {format_low_code(detail)}"
        case MaterialRule.ACCEPTED_PREFIX:
            titled = _title(detail, subchapter_titles)
            return f"accepted code group {format_low_code(detail)}{titled}"
        case MaterialRule.SAME_SUBCHAPTER:
            titled = _title(detail, subchapter_titles)
            return f"same sub-chapter {format_low_code(detail)}{titled}"
        case MaterialRule.SAME_CHAPTER:
            return f"same chapter {detail}{_title(detail, subchapter_titles)}"
        case MaterialRule.SAME_CATEGORY:
            return f"same category {detail}"
        case MaterialRule.PARENT_CATEGORY:
            return f"category {detail}"
        case MaterialRule.ACCEPTED_CATEGORY:
            return f"accepted category {detail}"
        case MaterialRule.SAME_BRANCH:
            return f"related categories {detail}"
        case MaterialRule.SAME_FAMILY:
            return f"same family {detail}"
        case MaterialRule.SYNONYM:
            return f"synonym {detail}"
        case MaterialRule.SIMILAR_TEXT:
            return f"similar description ({detail} text similarity)"
        case _:
            return "no material link"


def _km(value: float) -> str:
    return f"{value:.1f} km" if value < 10 else f"{value:.0f} km"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%" if share < 0.01 else f"{share * 100:.0f}%"


def _veto_reason(veto: str, offer: OfferProfile, demand: DemandProfile, ctx: PairContext) -> str:
    match veto:
        case Veto.RESOURCE_TYPE:
            return f"resource types differ ({offer.resource_type} vs {demand.resource_type})"
        case Veto.UNIT:
            return f"units differ ({offer.base_unit} vs {demand.base_unit})"
        case Veto.MATERIAL:
            match = material_match(offer, demand, ctx.text_similarity)
            if weak_link_too_far(match, ctx.distance_km):
                link = describe_material(offer, demand, ctx.text_similarity)
                return (
                    f"only a weak material link ({link}) at {_km(ctx.distance_km)}; "
                    f"weak links count within {WEAK_LINK_MAX_KM:.0f} km"
                )
            return "no material link"
        case Veto.DISTANCE:
            return f"{_km(ctx.distance_km)} exceeds the demand's {_km(demand.max_km)} limit"
        case Veto.HAZARDOUS:
            return "hazardous offer, but the demand may not receive hazardous waste"
        case Veto.LEGAL:
            return f"shipment prohibited{f' ({ctx.legal_label})' if ctx.legal_label else ''}"
        case Veto.EXPIRED:
            return f"offer expired on {offer.available_until}"
        case _:
            return "availability windows do not overlap"


def explain(
    offer: OfferProfile,
    demand: DemandProfile,
    ctx: PairContext,
    score: PairScore,
    *,
    subchapter_titles: Mapping[str, str] | None = None,
    structural: MaterialMatch | None = None,
) -> str:
    """Plain words for a facilitator, e.g. "same sub-chapter 10 01; 38 km by road; covers 80%
    of the demand; BE→NL green-listed: Annex VII document". ``structural``: see
    ``material_match`` (a bulk caller memoises it)."""
    parts: list[str] = []
    if score.vetoed_by is not None:
        parts.append(f"vetoed: {_veto_reason(score.vetoed_by, offer, demand, ctx)}")
    if score.material > 0:
        parts.append(
            describe_material(
                offer,
                demand,
                ctx.text_similarity,
                subchapter_titles=subchapter_titles,
                structural=structural,
            )
        )
    if score.vetoed_by != Veto.DISTANCE:
        parts.append(f"{_km(ctx.distance_km)} by {ctx.transport_mode}")
    if score.quantity > 0:
        share = min(offer.annual_quantity, demand.annual_quantity) / demand.annual_quantity
        if share >= 1.0:
            parts.append("covers all of the demand")
        elif share < TINY_SHARE:
            parts.append(f"covers only {_percent(share)} of the demand: not worth a truck")
        else:
            parts.append(f"covers {_percent(share)} of the demand")
        minimum = demand.annual_quantity_min
        if minimum is not None and offer.annual_quantity < minimum:
            parts.append(f"below the demand's minimum of {minimum:g} {demand.base_unit}/year")
    if 0 < score.timing < 1:
        days = round(-TIMING_DECAY_DAYS * math.log(score.timing))
        when = f"{days} days" if days < 60 else f"about {round(days / 30.4)} months"
        parts.append(f"available in {when}")
    if ctx.legal_label and score.vetoed_by != Veto.LEGAL:
        parts.append(ctx.legal_label)
    return "; ".join(parts)


def _percent_phrases(share: FloatArray) -> list[str]:
    return [f"{v * 100:.1f}%" if v < 0.01 else f"{v * 100:.0f}%" for v in share.tolist()]


def _per_row(profiles: Sequence[Any], rows: IntArray, value: Callable[[Any], float]) -> FloatArray:
    """``value`` of the profile of each of ``rows``, read once per distinct row: the pairs
    name a few rows of a table that may hold a hundred thousand."""
    unique, inverse = np.unique(rows, return_inverse=True)
    return np.array([value(profiles[r]) for r in unique.tolist()], dtype=np.float64)[inverse]


def explain_pairs(
    offers: Sequence[OfferProfile],
    demands: Sequence[DemandProfile],
    oi: IntArray,
    dj: IntArray,
    *,
    material: FloatArray,
    quantity: FloatArray,
    timing: FloatArray,
    distance_km: FloatArray,
    transport_mode: Sequence[str],
    legal_label: Sequence[str],
    text_similarity: FloatArray,
    structural: Sequence[MaterialMatch],
    structural_of: IntArray,
    subchapter_titles: Mapping[str, str] | None = None,
    rule_words: dict[int, str] | None = None,
) -> list[str]:
    """``explain`` for many scored, not vetoed pairs at once (offer ``offers[oi[n]]`` with
    demand ``demands[dj[n]]``, both of one resource type), with the same words: a test holds
    it to ``explain``. ``structural[structural_of[n]]`` is ``structural_match`` of pair n;
    ``rule_words`` (filled as it goes) keeps the words of each entry across calls.

    A phrase that depends on few values (the material rule) is built once per value; the rest
    are formatted from the columns and joined as object arrays. A full rematch explains about
    a million pairs: this keeps it to a few seconds.
    """
    n = int(oi.size)
    if n == 0:
        return []
    text = np.clip(np.nan_to_num(np.asarray(text_similarity, dtype=np.float64)), 0.0, 1.0)
    used, local = np.unique(structural_of, return_inverse=True)
    words = rule_words if rule_words is not None else {}
    for index in used.tolist():
        if index not in words:
            words[index] = describe_rule(structural[index], subchapter_titles=subchapter_titles)
    phrase = _objects([words[index] for index in used.tolist()])[local]
    rule_score = np.array([structural[i].score for i in used.tolist()], dtype=np.float64)[local]
    by_text = np.flatnonzero((text >= TEXT_MIN) & (TEXT_WEIGHT * text > rule_score))
    phrase[by_text] = [f"similar description ({t:.2f} text similarity)" for t in text[by_text]]
    # Distance and mode: every pair.
    km = np.asarray(distance_km, dtype=np.float64)
    out = np.empty(n, dtype=object)
    out[:] = [
        f"{k:.1f} km by {m}" if k < 10 else f"{k:.0f} km by {m}"
        for k, m in zip(km.tolist(), transport_mode, strict=True)
    ]
    has_material = np.flatnonzero(np.asarray(material) > 0)
    out[has_material] = phrase[has_material] + "; " + out[has_material]
    # Quantity: the share of the demand covered, and the demand's minimum.
    qo = _per_row(offers, oi, lambda p: p.annual_quantity)
    qd = _per_row(demands, dj, lambda p: p.annual_quantity)
    share = np.minimum(qo, qd) / qd
    has_quantity = np.asarray(quantity) > 0
    all_of = np.flatnonzero(has_quantity & (share >= 1.0))
    out[all_of] = out[all_of] + "; covers all of the demand"
    tiny = np.flatnonzero(has_quantity & (share < TINY_SHARE))
    out[tiny] = (
        out[tiny] + "; covers only " + _objects(_percent_phrases(share[tiny]))
        + " of the demand: not worth a truck"
    )  # fmt: skip
    part = np.flatnonzero(has_quantity & (share >= TINY_SHARE) & (share < 1.0))
    out[part] = out[part] + "; covers " + _objects(_percent_phrases(share[part])) + " of the demand"
    minimum = _per_row(
        demands, dj, lambda p: math.nan if p.annual_quantity_min is None else p.annual_quantity_min
    )
    below = np.flatnonzero(has_quantity & (qo < minimum))
    out[below] = out[below] + _objects(
        [
            f"; below the demand's minimum of {demands[j].annual_quantity_min:g} "
            f"{demands[j].base_unit}/year"
            for j in dj[below].tolist()
        ]
    )
    # Timing: how long until the material is available.
    t_values = np.asarray(timing, dtype=np.float64)
    for p in np.flatnonzero((t_values > 0) & (t_values < 1)).tolist():
        days = round(-TIMING_DECAY_DAYS * math.log(float(t_values[p])))
        when = f"{days} days" if days < 60 else f"about {round(days / 30.4)} months"
        out[p] = f"{out[p]}; available in {when}"
    labels = _objects(list(legal_label))
    labelled = np.flatnonzero(labels != "")
    out[labelled] = out[labelled] + "; " + labels[labelled]
    return out.tolist()


def _objects(values: Sequence[str]) -> npt.NDArray[np.object_]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


# --------------------------------------------------------------------------------------------
# Column batches and pair keys
# --------------------------------------------------------------------------------------------
# Every listing emits string keys. An offer emits its code at three lengths ("c2:10",
# "c4:1001", "c6:100102"), each prefix of its category path ("p:minerals", "p:minerals/ashes"),
# each slug on the path ("s:ashes") and its concepts ("k:fly_ash"), all with weight 1. A demand
# emits the same kinds of key, weighted by the role they play, so that the sparse product
# offers × keys × demands gives, per pair, a packed int64 (the *encoding*):
#   bits 0-7   shared concepts (count)
#   bits 8-11  length of the common category prefix
#   bits 12-15 accepted categories on the offer's path (count)
#   bits 16-21 code roles: own chapter, own sub-chapter, own code, accepted 2-, 4-, 6-digit.
# A pair whose structural material score is > 0 shares a key.
#
# The *strong* keys leave out the two weak links (the demand's own chapter and the top level of
# the path), so that their product finds exactly the pairs that share a strong key, wherever
# they are; ``complete_strong_encoding`` adds the weak fields back from the chapter and root
# columns. Because the top level is left out, a one-level path ("minerals") meets deeper paths
# through "rx:"/"ry:" keys (offer exactly the root / demand exactly the root), and the second
# level weighs 2 so that the prefix count stays the full common length.

_CONCEPT: Final = 1
_PATH: Final = 1 << 8
_ACCEPTED_CATEGORY: Final = 1 << 12
_OWN2, _OWN4, _OWN6 = 1 << 16, 1 << 17, 1 << 18
_ACC2, _ACC4, _ACC6 = 1 << 19, 1 << 20, 1 << 21
_STRONG_CODE_BITS: Final = _OWN4 | _OWN6 | _ACC2 | _ACC4 | _ACC6
_PATH_SEP: Final = "\x1f"
_ACCEPTED_ROLE: Final[Mapping[int, int]] = {2: _ACC2, 4: _ACC4, 6: _ACC6}


def _listing_keys(
    p: ListingProfile, demand: DemandProfile | None
) -> tuple[dict[str, int], dict[str, int]]:
    """(all keys, strong keys) of a listing, each key with its weight."""
    full: dict[str, int] = {}
    strong: dict[str, int] = {}

    def add(key: str, weight: int, *, is_strong: bool = True, strong_weight: int = 0) -> None:
        full[key] = full.get(key, 0) | weight
        if is_strong:
            strong[key] = strong.get(key, 0) | (strong_weight or weight)

    code = p.low_code
    if code:
        add("c2:" + code[:2], _OWN2 if demand else 1, is_strong=demand is None)
        add("c4:" + code[:4], _OWN4 if demand else 1)
        add("c6:" + code, _OWN6 if demand else 1)
    path = p.category_path
    for level in range(1, len(path) + 1):
        weight = _PATH if demand else 1
        add(
            "p:" + _PATH_SEP.join(path[:level]),
            weight,
            is_strong=level >= 2,
            strong_weight=2 * weight if level == 2 and demand else weight,
        )
    if path:
        if demand is None:
            strong[("rx:" if len(path) == 1 else "ry:") + path[0]] = 1
        else:
            strong["rx:" + path[0]] = _PATH
            if len(path) == 1:
                strong["ry:" + path[0]] = _PATH
    for concept in p.concepts:
        add("k:" + concept, _CONCEPT)
    if demand is None:
        for slug in path:
            add("s:" + slug, 1)
    else:
        for accepted in demand.accepted_codes:
            add(f"c{len(accepted)}:{accepted}", _ACCEPTED_ROLE[len(accepted)])
        for slug in demand.accepted_categories:
            add("s:" + slug, _ACCEPTED_CATEGORY)
    return full, strong


def _code_lut(bits_used: int) -> FloatArray:
    lut = np.zeros(64)
    for bits in range(64):
        best = 0.0
        for bit, value in (
            (_OWN6, SAME_CODE),
            (_ACC6, ACCEPTED_CODE),
            (_ACC4, ACCEPTED_PREFIX),
            (_ACC2, ACCEPTED_PREFIX),
            (_OWN4, SAME_SUBCHAPTER),
            (_OWN2, SAME_CHAPTER),
        ):
            if bits & (bit >> 16) & (bits_used >> 16):
                best = max(best, value)
        lut[bits] = best
    return lut


def _structure_luts() -> tuple[FloatArray, FloatArray]:
    """(strong, weak) material scores without concepts and text.

    Indexed by code bits (6) | accepted category (1) | common prefix (4) | offer depth (4) |
    demand depth (4).
    """
    index = np.arange(1 << 19, dtype=np.int64)
    accepted = (index >> 12) & 1
    common = (index >> 8) & 15
    do = (index >> 4) & 15
    dd = index & 15
    # Both paths known, different top levels: a shared sub-chapter or chapter does not count.
    families_differ = (do > 0) & (dd > 0) & (common == 0)
    same = (common > 0) & (common == do) & (common == dd)
    parent = (common > 0) & ~same & (common == np.minimum(do, dd))
    branch = (common >= 2) & ~same & ~parent
    category = np.select(
        [same, parent | (accepted > 0), branch], [SAME_CATEGORY, PARENT_CATEGORY, SAME_BRANCH], 0.0
    )
    code_bits = index >> 13
    strong_code = np.where(
        families_differ,
        _code_lut(_STRONG_CODE_BITS & ~_OWN4)[code_bits],
        _code_lut(_STRONG_CODE_BITS)[code_bits],
    )
    strong = np.maximum(strong_code, category)
    own_chapter = np.where(families_differ, 0.0, _code_lut(_OWN2)[code_bits])
    weak = np.maximum(own_chapter, np.where(common > 0, SAME_FAMILY, 0.0))
    return strong, weak


_STRONG_LUT, _WEAK_LUT = _structure_luts()


@dataclass(frozen=True, slots=True, eq=False)
class ListingBatch:
    """Column arrays of N listings (offers or demands), built once per batch.

    ``code6``/``sub4``/``chapter`` are ints (-1 without a code), day windows are ordinals with
    open ends at ±2**40, ``x``/``y``/``z`` are unit-sphere coordinates. The pair keys are two
    small CSR structures (all keys, strong keys) over ``vocab``; ``root`` is the ``vocab`` id of
    the top-level path key (-1 without a category).
    """

    ids: IntArray
    resource: npt.NDArray[np.int8]
    unit: npt.NDArray[np.int8]
    code6: IntArray
    sub4: IntArray
    chapter: IntArray
    lat: FloatArray
    lon: FloatArray
    x: FloatArray
    y: FloatArray
    z: FloatArray
    quantity: FloatArray
    depth: IntArray
    n_concepts: IntArray
    available_from: IntArray
    available_until: IntArray
    root: IntArray
    vocab: tuple[str, ...]
    key_ptr: IntArray
    key_ids: IntArray
    key_weights: IntArray
    strong_ptr: IntArray
    strong_ids: IntArray
    strong_weights: IntArray
    # Listings with the same material signature (code, path, concepts and, for demands, what
    # they accept) have the same keys: the number of the signature, in order of appearance.
    material_sig: IntArray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def xyz(self) -> FloatArray:
        return np.column_stack((self.x, self.y, self.z))


def _material_signature(p: ListingProfile, demand: DemandProfile | None) -> tuple[object, ...]:
    """What ``_listing_keys`` reads: listings with the same signature have the same keys."""
    if demand is None:
        return (p.low_code, p.category_path, p.concepts)
    return (
        p.low_code,
        p.category_path,
        p.concepts,
        demand.accepted_codes,
        demand.accepted_categories,
    )


def _batch_columns(
    profiles: Sequence[ListingProfile], demands: Sequence[DemandProfile] | None
) -> dict[str, object]:
    n = len(profiles)
    vocab: dict[str, int] = {}
    # Keys once per distinct material signature (a batch has far fewer than listings), then
    # each listing's rows of the two key structures are gathered from its signature's.
    signature_of: dict[tuple[object, ...], int] = {}
    sig = np.empty(n, dtype=np.int64)
    per_sig: dict[str, list[tuple[list[int], list[int]]]] = {"key": [], "strong": []}
    sig_root: list[int] = []
    for i, p in enumerate(profiles):
        demand = demands[i] if demands is not None else None
        signature = _material_signature(p, demand)
        s = signature_of.get(signature)
        if s is None:
            s = signature_of[signature] = len(sig_root)
            for name, keys in zip(("key", "strong"), _listing_keys(p, demand), strict=True):
                per_sig[name].append(
                    ([vocab.setdefault(key, len(vocab)) for key in keys], list(keys.values()))
                )
            sig_root.append(vocab["p:" + p.category_path[0]] if p.category_path else -1)
        sig[i] = s
    structures: dict[str, tuple[IntArray, IntArray, IntArray]] = {}
    for name, rows in per_sig.items():
        lengths = np.array([len(ids) for ids, _ in rows], dtype=np.int64)
        flat_ids = np.array([k for ids, _ in rows for k in ids], dtype=np.int64)
        flat_weights = np.array([w for _, ws in rows for w in ws], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if rows else lengths
        count = lengths[sig] if n else np.zeros(0, dtype=np.int64)
        ptr = np.concatenate(([0], np.cumsum(count))).astype(np.int64)
        offset = np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], count)
        at = np.repeat(starts[sig], count) + offset if n else offset
        structures[name] = (ptr, flat_ids[at], flat_weights[at])
    root = np.array(sig_root, dtype=np.int64)[sig] if n else np.full(0, -1, dtype=np.int64)
    code6 = np.array([int(p.low_code) if p.low_code else -1 for p in profiles], dtype=np.int64)
    has_code = code6 >= 0
    lat = np.array([p.lat for p in profiles], dtype=np.float64)
    lon = np.array([p.lon for p in profiles], dtype=np.float64)
    phi, lam = np.radians(lat), np.radians(lon)
    return {
        "ids": np.array([p.id for p in profiles], dtype=np.int64),
        "resource": np.array([_RESOURCE_INDEX[p.resource_type] for p in profiles], dtype=np.int8),
        "unit": np.array([_UNIT_INDEX[p.base_unit] for p in profiles], dtype=np.int8),
        "code6": code6,
        "sub4": np.where(has_code, code6 // 100, -1),
        "chapter": np.where(has_code, code6 // 10000, -1),
        "lat": lat,
        "lon": lon,
        "x": np.cos(phi) * np.cos(lam),
        "y": np.cos(phi) * np.sin(lam),
        "z": np.sin(phi),
        "quantity": np.array([p.annual_quantity for p in profiles], dtype=np.float64),
        "depth": np.array([len(p.category_path) for p in profiles], dtype=np.int64),
        "n_concepts": np.array([len(p.concepts) for p in profiles], dtype=np.int64),
        "available_from": np.array(
            [_ordinal(p.available_from, -_NO_DAY) for p in profiles], dtype=np.int64
        ),
        "available_until": np.array(
            [_ordinal(p.available_until, _NO_DAY) for p in profiles], dtype=np.int64
        ),
        "root": root,
        "vocab": tuple(vocab),
        "key_ptr": structures["key"][0],
        "key_ids": structures["key"][1],
        "key_weights": structures["key"][2],
        "strong_ptr": structures["strong"][0],
        "strong_ids": structures["strong"][1],
        "strong_weights": structures["strong"][2],
        "material_sig": sig,
    }


@dataclass(frozen=True, slots=True, eq=False)
class OfferBatch(ListingBatch):
    hazardous: BoolArray

    @classmethod
    def from_profiles(cls, offers: Sequence[OfferProfile]) -> OfferBatch:
        columns = _batch_columns(offers, None)
        hazardous = np.array([o.hazardous for o in offers], dtype=np.bool_)
        return cls(**columns, hazardous=hazardous)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, eq=False)
class DemandBatch(ListingBatch):
    quantity_min: FloatArray  # NaN: no minimum
    max_km: FloatArray
    scale_km: FloatArray
    hazard_ok: BoolArray  # accepts hazardous material and holds a permit

    @classmethod
    def from_profiles(cls, demands: Sequence[DemandProfile]) -> DemandBatch:
        columns = _batch_columns(demands, demands)
        minimum = [
            math.nan if d.annual_quantity_min is None else d.annual_quantity_min for d in demands
        ]
        return cls(
            **columns,  # type: ignore[arg-type]
            quantity_min=np.array(minimum, dtype=np.float64),
            max_km=np.array([d.max_km for d in demands], dtype=np.float64),
            scale_km=np.array(
                [DISTANCE_SCALE_KM[d.resource_type] for d in demands], dtype=np.float64
            ),
            hazard_ok=np.array(
                [d.accepts_hazardous and d.has_permit for d in demands], dtype=np.bool_
            ),
        )


def vocabulary_map(batch: ListingBatch, columns: Mapping[str, int]) -> IntArray:
    """``batch.vocab`` ids → ``columns`` ids (-1 for keys ``columns`` lacks)."""
    return np.array([columns.get(key, -1) for key in batch.vocab], dtype=np.int64)


def key_incidence(
    batch: ListingBatch, mapping: IntArray, n_columns: int, *, strong: bool = False
) -> sparse.csr_array:
    """The N × n_columns weighted key matrix of ``batch`` (all keys, or the strong ones).

    ``mapping`` is ``vocabulary_map(batch, columns)``; keys mapped to -1 cannot be shared and
    are dropped.
    """
    ptr, ids, weights = (
        (batch.strong_ptr, batch.strong_ids, batch.strong_weights)
        if strong
        else (batch.key_ptr, batch.key_ids, batch.key_weights)
    )
    cols = mapping[ids] if ids.size else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(batch), dtype=np.int64), np.diff(ptr))
    keep = cols >= 0
    return sparse.csr_array(
        (weights[keep], (rows[keep], cols[keep])), shape=(len(batch), n_columns)
    )


def joint_vocabulary(batches: Iterable[ListingBatch]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for batch in batches:
        for key in batch.vocab:
            vocab.setdefault(key, len(vocab))
    return vocab


def pair_encoding(offers: OfferBatch, demands: DemandBatch) -> IntArray:
    """The dense N × M encodings (0 where a pair shares no key)."""
    vocab = joint_vocabulary((offers, demands))
    a = key_incidence(offers, vocabulary_map(offers, vocab), len(vocab))
    b = key_incidence(demands, vocabulary_map(demands, vocab), len(vocab))
    return np.asarray((a @ b.T).toarray(), dtype=np.int64)


def complete_strong_encoding(
    encoding: IntArray, same_chapter: BoolArray, same_root: BoolArray
) -> IntArray:
    """Add the weak fields (own chapter, top-level prefix) to a strong-key product."""
    common = (encoding >> 8) & 15
    return (
        encoding | np.where(same_chapter, _OWN2, 0) | np.where((common == 0) & same_root, _PATH, 0)
    )


def shares_strong_key(
    encoding: IntArray, offer_depth: IntArray, demand_depth: IntArray
) -> BoolArray:
    """Whether a pair (given its full encoding) shares a strong key."""
    common = (encoding >> 8) & 15
    one_level = (common == 1) & ((offer_depth == 1) | (demand_depth == 1))
    return ((encoding & (255 | (15 << 12) | _STRONG_CODE_BITS)) != 0) | (common >= 2) | one_level


# --------------------------------------------------------------------------------------------
# The vectorised form, on flat pair arrays (oi[p], dj[p]) = offer and demand rows of pair p
# --------------------------------------------------------------------------------------------


def material_structure_pairs(
    offers: ListingBatch, demands: ListingBatch, oi: IntArray, dj: IntArray, encoding: IntArray
) -> tuple[FloatArray, BoolArray]:
    """(structural material score, strong link) per pair (no text; resource types ignored)."""
    index = (
        ((encoding >> 3) & (63 << 13))
        | (np.minimum((encoding >> 12) & 15, 1) << 12)
        | (((encoding >> 8) & 15) << 8)
        | (offers.depth[oi] << 4)
        | demands.depth[dj]
    )
    strong = _STRONG_LUT[index]
    shared = encoding & 255
    hit = np.flatnonzero(shared)
    if hit.size:
        inter = shared[hit]
        union = offers.n_concepts[oi[hit]] + demands.n_concepts[dj[hit]] - inter
        jaccard = inter / union
        concept = np.where(
            jaccard >= CONCEPT_MIN_JACCARD, CONCEPT_BASE + CONCEPT_SPAN * jaccard, 0.0
        )
        strong[hit] = np.maximum(strong[hit], concept)
    return np.maximum(strong, _WEAK_LUT[index]), strong > 0


def material_cap(
    encoding: IntArray, offer_depths: IntArray, demand_depths: IntArray, *, text: bool
) -> FloatArray:
    """The largest material a pair with this encoding can reach, whatever its depths (among
    the given ones), the weak fields ``complete_strong_encoding`` may add, its concepts'
    overlap and (``text``) its description similarity: a bound the search applies before it
    knows the pair's rows."""
    encoding = np.asarray(encoding, dtype=np.int64)
    cap = np.zeros(encoding.size)
    depths = [
        (int(o) << 4) | int(d)
        for o in np.unique(offer_depths).tolist()
        for d in np.unique(demand_depths).tolist()
    ]
    # complete_strong_encoding adds the path's top level only where no prefix is shared.
    path = np.where(((encoding >> 8) & 15) == 0, encoding | _PATH, encoding)
    for variant in (encoding, encoding | _OWN2, path, path | _OWN2):
        head = (
            ((variant >> 3) & (63 << 13))
            | (np.minimum((variant >> 12) & 15, 1) << 12)
            | (((variant >> 8) & 15) << 8)
        )
        for depth in depths:
            cap = np.maximum(cap, _STRONG_LUT[head | depth])
            cap = np.maximum(cap, _WEAK_LUT[head | depth])
    cap = np.where((encoding & 255) > 0, np.maximum(cap, CONCEPT_BASE + CONCEPT_SPAN), cap)
    return material_pairs(cap, 1.0 if text else 0.0)


def material_pairs(structure: FloatArray, text: FloatArray | float) -> FloatArray:
    """Blend description similarity into the structural score (same rule as material_match)."""
    t = np.clip(np.nan_to_num(np.asarray(text, dtype=np.float64), nan=0.0), 0.0, 1.0)
    base = np.maximum(structure, np.where(t >= TEXT_MIN, TEXT_WEIGHT * t, 0.0))
    return np.where(base > 0, base + TEXT_BOOST * t * (1.0 - base), 0.0)


def weak_link_pairs(
    material: FloatArray, strong_link: BoolArray, distance_km: FloatArray
) -> FloatArray:
    """Material 0 where only a weak link (or text) joins a pair more than 50 km apart."""
    with np.errstate(invalid="ignore"):
        near = np.asarray(distance_km) <= WEAK_LINK_MAX_KM
    return np.where(strong_link | near, material, 0.0)


def quantity_pairs(
    offers: ListingBatch,
    demands: DemandBatch,
    oi: IntArray,
    dj: IntArray,
    *,
    same_unit: bool = False,
) -> FloatArray:
    qo = offers.quantity[oi]
    qd = demands.quantity[dj]
    coverage = np.minimum(qo, qd) / qd
    q = np.sqrt(coverage) * np.minimum(1.0, coverage / TINY_SHARE)
    q = np.where(qo < demands.quantity_min[dj], q * BELOW_MINIMUM_FACTOR, q)
    if not same_unit:
        q = np.where(offers.unit[oi] == demands.unit[dj], q, 0.0)
    return q


def timing_pairs(
    offers: ListingBatch, demands: ListingBatch, oi: IntArray, dj: IntArray, today: date
) -> FloatArray:
    t0 = today.toordinal()
    o_until = offers.available_until[oi]
    start = np.maximum(np.maximum(offers.available_from[oi], demands.available_from[dj]), t0)
    end = np.minimum(o_until, demands.available_until[dj])
    ok = (o_until >= t0) & (start <= end)
    delay = start - t0
    timing = ok.astype(np.float64)
    late = np.flatnonzero(ok & (delay > 0))
    if late.size:
        timing[late] = np.exp(-delay[late] / TIMING_DECAY_DAYS)
    return timing


def legal_pairs(
    offers: OfferBatch,
    demands: DemandBatch,
    oi: IntArray,
    dj: IntArray,
    legal: FloatArray | float,
) -> FloatArray:
    value = np.clip(np.nan_to_num(np.asarray(legal, dtype=np.float64), nan=0.0), 0.0, 1.0)
    blocked = offers.hazardous[oi] & ~demands.hazard_ok[dj]
    return np.where(blocked, 0.0, value)


def distance_pairs(demands: DemandBatch, dj: IntArray, distance_km: FloatArray) -> FloatArray:
    d = np.asarray(distance_km, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(d) & (d <= demands.max_km[dj])
        return np.where(inside, np.exp(-np.maximum(d, 0.0) / demands.scale_km[dj]), 0.0)


def _log(values: FloatArray) -> FloatArray:
    """log, computed only below 1 (log 1 = 0, log 0 = -inf)."""
    out = np.zeros_like(values)
    below = np.flatnonzero(values < 1.0)
    if below.size:
        with np.errstate(divide="ignore"):
            out[below] = np.log(values[below])
    return out


def combine_pairs(
    material: FloatArray,
    quantity: FloatArray,
    distance: FloatArray,
    legal: FloatArray,
    timing: FloatArray,
    weights: Weights = DEFAULT_WEIGHTS,
) -> FloatArray:
    """Weighted geometric mean of component arrays; any 0 gives 0."""
    wm, wq, wd, wl, wt = weights.normalised()
    log_score = wm * _log(material)
    log_score += wq * _log(quantity)
    log_score += wd * _log(distance)
    log_score += wl * _log(legal)
    log_score += wt * _log(timing)
    return np.exp(log_score)


@dataclass(frozen=True, slots=True, eq=False)
class ScoreMatrix:
    """Component and score arrays (N × M from score_matrix); vetoed pairs have score 0."""

    score: FloatArray
    material: FloatArray
    quantity: FloatArray
    distance: FloatArray
    legal: FloatArray
    timing: FloatArray


def score_pairs(
    offers: OfferBatch,
    demands: DemandBatch,
    oi: IntArray,
    dj: IntArray,
    *,
    encoding: IntArray,
    distance_km: FloatArray,
    legal_score: FloatArray,
    text_similarity: FloatArray,
    today: date,
    weights: Weights = DEFAULT_WEIGHTS,
) -> ScoreMatrix:
    """Score flat pairs (1-D arrays, one entry per pair); ``encoding`` from the key product."""
    structure, strong_link = material_structure_pairs(offers, demands, oi, dj, encoding)
    material = weak_link_pairs(material_pairs(structure, text_similarity), strong_link, distance_km)
    material = np.where(offers.resource[oi] == demands.resource[dj], material, 0.0)
    quantity = quantity_pairs(offers, demands, oi, dj)
    distance = distance_pairs(demands, dj, distance_km)
    legal = legal_pairs(offers, demands, oi, dj, legal_score)
    timing = timing_pairs(offers, demands, oi, dj, today)
    score = combine_pairs(material, quantity, distance, legal, timing, weights)
    return ScoreMatrix(score, material, quantity, distance, legal, timing)


def score_matrix(
    offers: OfferBatch,
    demands: DemandBatch,
    *,
    distance_km: npt.ArrayLike,
    legal_score: npt.ArrayLike,
    text_similarity: npt.ArrayLike,
    today: date,
    weights: Weights = DEFAULT_WEIGHTS,
) -> ScoreMatrix:
    """Score every offer against every demand. The context arrays are N × M (or broadcast)."""
    n, m = len(offers), len(demands)
    shape = (n, m)

    def full(values: npt.ArrayLike) -> FloatArray:
        return np.broadcast_to(np.asarray(values, dtype=np.float64), shape).ravel()

    oi = np.repeat(np.arange(n, dtype=np.int64), m)
    dj = np.tile(np.arange(m, dtype=np.int64), n)
    flat = score_pairs(
        offers,
        demands,
        oi,
        dj,
        encoding=pair_encoding(offers, demands).ravel(),
        distance_km=full(distance_km),
        legal_score=full(legal_score),
        text_similarity=full(text_similarity),
        today=today,
        weights=weights,
    )
    return ScoreMatrix(
        flat.score.reshape(shape),
        flat.material.reshape(shape),
        flat.quantity.reshape(shape),
        flat.distance.reshape(shape),
        flat.legal.reshape(shape),
        flat.timing.reshape(shape),
    )
