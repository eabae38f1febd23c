"""Indicative cross-border shipment procedure for a residue (pure domain code).

Only the stdlib and ``harbors.countries`` (pure data) are imported: no Django, no I/O, no clock.
The caller passes the shipment date; ``date=None`` is read as "on or after 21 May 2026", the day
Regulation (EU) 2024/1157 applies (its Art. 85 repeals Regulation (EC) No 1013/2006 from then).
The answer is always *indicative*: the competent authorities decide.

Sources and how far each citation was checked
---------------------------------------------
- Regulation (EU) 2024/1157 ("WSR 2024"), OJ L 2024/1157. Article headings checked against the
  table of contents: Art. 4 overall procedural framework, 5 notification, 6 contract, 7 financial
  guarantee, 9 consent (dispatch, destination, transit), 11 conditions for disposal shipments,
  12 objections to recovery shipments, 15 interim recovery/disposal, 18 general information
  requirements, 27 electronic submission (DIWASS), 28 disagreement on classification.
  Art. 4(2)(d) (green-listed waste that is hazardous is notified: new in 2024/1157), Art. 37
  (export for disposal banned except to EFTA countries that are Basel Parties), Art. 38 (procedure
  for those EFTA exports) and Art. 39 (hazardous waste to non-OECD countries banned) follow the
  project design; for exports for recovery to OECD countries and for imports we cite the Title
  and Chapter rather than an article number we could not check.
- Regulation (EC) No 1013/2006 ("WSR 2006"): Art. 3(1)(a) disposal, 3(1)(b)(i)-(iv) amber,
  Annex IVA, unlisted, mixtures not in Annex IIIA; 3(2) green -> Art. 18; 3(5) mixed municipal
  waste; 4-6 notification, contract, guarantee; 26 documents; 34-35 export for disposal;
  36 export ban to non-OECD; 38 export for recovery to OECD; 41-42 imports for disposal;
  43-44 imports for recovery. Checked against the UK retained text on legislation.gov.uk.
- United Kingdom: retained Regulation (EC) No 1013/2006 (Art. 34(1): exports for disposal
  prohibited; 34(2)/(5): EU/EFTA only on a reasoned request of the Secretary of State that the UK
  lacks capacity) and the UK Plan for Shipments of Waste (amended 16 September 2021), which keeps
  UK self-sufficiency in disposal by strictly limiting shipments for disposal both ways. Northern
  Ireland applies EU rules under the Windsor Framework; this table treats "GB" as Great Britain.
- Switzerland: Ordinance on Movements of Waste (OMW/VeVA, SR 814.610), applying the OECD Decision
  and the Basel Convention.
- OECD Decision C(2001)107/FINAL as amended (green/amber control procedures between OECD
  members); Basel Convention Art. 4(5) (no trade with non-Parties without an Art. 11 agreement)
  and Art. 4A (Ban Amendment: no hazardous waste from Annex VII countries to others).

Decision table (first matching row wins; "Union" = EU/EEA, and GB before 1 January 2021)
-----------------------------------------------------------------------------------------
Input checks: unknown country, an operation outside R1-R13/D1-D15, a malformed LoW or Basel code,
an unknown enum value, a date before 12 July 2007 -> ``LegalInputError(field=...)``.

 #  situation                                                -> procedure [flag]: basis
 1  origin == destination                                    -> none [domestic]: WSR Title III,
                                                                national law
 2  status product, R operation                              -> none [not_waste_claimed]:
                                                                WFD Art. 3(1); Art. 28 if disputed
 3  by-product / end-of-waste recognised on both sides:      -> none: WFD Art. 5 / Art. 6;
    NATIONAL_BOTH; or EU_REGULATION for end-of-waste with       Reg. 333/2011, 1179/2012, 715/2013
    both countries in the Union (not automatic for CH/GB)
 4  by-product / end-of-waste not recognised on both sides   -> waste
    (NATIONAL_ORIGIN, SELF_DECLARED, NONE, or EU_REGULATION     [status_not_recognised_both_sides]:
    with a side outside the Union); status unknown; any         WSR Art. 28 (disagreement: waste)
    status with a D operation [disposal_operation_implies_waste]
    -- material treated as waste from here on --
 5  D, Union -> Union                                        -> notification_disposal:
                                                                Art. 4(1), Art. 11
 6  R, mixed municipal waste 20 03 01, Union -> Union        -> notification_disposal: Art. 4
                                                                (WSR 2006: Art. 3(5))
 7  D, Union -> EFTA country that is a Basel Party (CH)      -> notification_disposal:
                                                                Art. 37 exception, Art. 38
 8  D, Union -> any other third country (e.g. GB)            -> prohibited: Art. 37(1)
 9  D, from GB (after 2020) to anywhere                      -> prohibited: UK retained Art. 34;
                                                                UK Plan [narrow_exceptions_...]
 10 D, from anywhere to GB (after 2020)                      -> prohibited: UK Plan
 11 D, third country -> Union, origin a Basel Party (CH)     -> notification_disposal: Title V
 12 D, third country -> Union, origin not a Basel Party      -> prohibited: Title V
 13 D, third -> third country, both Basel Parties            -> notification_disposal: Basel Art. 6
 14 D, third -> third country otherwise                      -> prohibited: Basel Art. 4(5)
 15 R, destination neither OECD nor Union, hazardous or      -> prohibited: Art. 39; Basel Art. 4A
    amber waste from an OECD/Union origin
 16 R, any other leg touching a non-OECD, non-Union country  -> notification
                                                                [non_oecd_country_specific_rules]
 17 R, any notification trigger: amber (Annex IV); unlisted  -> notification: Art. 4(2), 5, 9
    (no class and no Basel code given: assumed unlisted,        (hazardous: Art. 4(2)(d);
    [list_class_unknown_assumed_unlisted]); a mixture not       contamination: Annex III notes;
    in Annex IIIA; hazardous in the LoW (EU law, from 21 May    POPs: Reg. 2019/1021)
    2026 only); contaminated; POPs above Annex IV limits;
    mixed municipal waste on a leg other than row 6
 18 R, green-listed, no trigger                              -> general_information: Art. 18, 27
 19 R, neither side in the Union (GB <-> CH): rows 15-18     -> as 15-18 [outside_eu_regulation_...]
    under the OECD Decision and the UK retained text,           OECD Decision C(2001)107/FINAL;
    without the EU-only hazardous-LoW trigger                   UK retained Art. 38, 43-44; VeVA

Cross-cutting: R12/R13/D13-D15 add "interim_operation" and a document (Art. 15); notification
procedures add "transit_consent_may_be_required" (Art. 9) and a transit document; dates before
21 May 2026 cite Regulation (EC) No 1013/2006, drop the hazardous-LoW trigger and add
"pre_2024_1157_regime". Exports and imports cite the Union side and, for GB/CH, their own text.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from enum import StrEnum

from harbors.countries import COUNTRIES, Country

INDICATIVE = "indicative; the competent authorities decide"

APPLICATION_DATE_2024_1157 = datetime.date(2026, 5, 21)
APPLICATION_DATE_1013_2006 = datetime.date(2007, 7, 12)
# The Brexit transition period ended on 31 December 2020; GB applies its retained regime after.
UK_RETAINED_REGIME_FROM = datetime.date(2021, 1, 1)
# Regulation (EU) 2019/1021 (POPs recast) applies from 15 July 2019; before, Regulation 850/2004.
POPS_RECAST_FROM = datetime.date(2019, 7, 15)


class WasteStatus(StrEnum):
    PRODUCT = "product"
    BY_PRODUCT = "by_product"
    END_OF_WASTE = "end_of_waste"
    WASTE = "waste"
    UNKNOWN = "unknown"


class Evidence(StrEnum):
    # EU end-of-waste regulation with a statement of conformity: 333/2011 (iron, steel and
    # aluminium scrap), 1179/2012 (glass cullet), 715/2013 (copper scrap).
    EU_REGULATION = "eu_regulation"
    NATIONAL_ORIGIN = "national_origin"  # a decision of the country of dispatch only
    NATIONAL_BOTH = "national_both"  # decisions (or agreement) of both countries
    SELF_DECLARED = "self_declared"
    NONE = "none"


class ListClass(StrEnum):
    GREEN = "green"  # Annex III / IIIA / IIIB
    AMBER = "amber"  # Annex IV
    UNLISTED = "unlisted"


class Procedure(StrEnum):
    NONE = "none"
    GENERAL_INFORMATION = "general_information"
    NOTIFICATION = "notification"
    NOTIFICATION_DISPOSAL = "notification_disposal"
    PROHIBITED = "prohibited"


class Flag(StrEnum):
    DOMESTIC = "domestic"
    NOT_WASTE_CLAIMED = "not_waste_claimed"
    NOT_WASTE_RECOGNISED_BOTH_SIDES = "not_waste_recognised_both_sides"
    EU_END_OF_WASTE_REGULATION = "eu_end_of_waste_regulation"
    STATUS_NOT_RECOGNISED_BOTH_SIDES = "status_not_recognised_both_sides"
    EU_REGULATION_NOT_RECOGNISED_OUTSIDE_EU = "eu_end_of_waste_not_recognised_outside_eu_eea"
    EU_REGULATION_IS_END_OF_WASTE_ONLY = "eu_regulation_evidence_is_end_of_waste_only"
    WASTE_STATUS_UNKNOWN = "waste_status_unknown_treated_as_waste"
    DISPOSAL_IMPLIES_WASTE = "disposal_operation_implies_waste"
    LIST_CLASS_UNKNOWN = "list_class_unknown_assumed_unlisted"
    LIST_CLASS_OVERRIDES_BASEL_CODE = "list_class_differs_from_basel_code"
    AMBER_LISTED = "amber_listed"
    UNLISTED = "unlisted"
    MIXTURE = "mixture_not_in_annex_iiia"
    HAZARDOUS_LOW = "hazardous_in_list_of_waste"
    HAZARDOUS_LOW_EU_ONLY = "hazardous_low_trigger_is_eu_only"
    MIRROR_ENTRY = "mirror_entry_assessment_needed"
    CONTAMINATED = "contaminated"
    POPS = "pops_above_limits"
    MIXED_MUNICIPAL_WASTE = "mixed_municipal_waste"
    INTERIM_OPERATION = "interim_operation"
    TRANSIT = "transit_consent_may_be_required"
    PRE_2024_1157 = "pre_2024_1157_regime"
    OUTSIDE_EU_OECD = "outside_eu_regulation_oecd_decision"
    OUTSIDE_EU_BASEL = "outside_eu_regulation_basel_convention"
    EEA_EFTA_STATE = "eea_efta_state"
    EXPORT_FOR_DISPOSAL_PROHIBITED = "export_for_disposal_prohibited"
    UK_DISPOSAL_SELF_SUFFICIENCY = "uk_plan_disposal_self_sufficiency"
    NARROW_EXCEPTIONS = "narrow_exceptions_may_apply"
    IMPORT_FROM_NON_BASEL_PARTY = "import_for_disposal_from_non_basel_party"
    HAZARDOUS_TO_NON_OECD = "hazardous_waste_to_non_oecd_prohibited"
    NON_OECD_COUNTRY_RULES = "non_oecd_country_specific_rules"


PROCEDURE_SCORE: dict[Procedure, float] = {
    Procedure.NONE: 1.0,
    Procedure.GENERAL_INFORMATION: 0.85,
    Procedure.NOTIFICATION: 0.5,
    Procedure.NOTIFICATION_DISPOSAL: 0.3,
    Procedure.PROHIBITED: 0.0,
}


def legal_score(procedure: Procedure) -> float:
    """The legal component of the match score: 1.0 (no procedure) down to 0.0 (prohibited)."""
    return PROCEDURE_SCORE[Procedure(procedure)]


class LegalInputError(ValueError):
    """A question the function cannot answer; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ShipmentQuestion:
    origin: str  # ISO 3166-1 alpha-2 of the country of dispatch
    destination: str  # ISO 3166-1 alpha-2 of the country of destination
    waste_status: WasteStatus
    operation: str  # "R1".."R13" or "D1".."D15" (Directive 2008/98/EC, Annexes I and II)
    low_code: str | None = None  # "100102", "10 01 02" or "10 01 02*" (asterisk = hazardous)
    hazardous: bool = False  # the LoW asterisk, looked up by the caller
    mirror: bool = False  # a mirror entry: hazard depends on an assessment of the content
    evidence: Evidence = Evidence.NONE
    list_class: ListClass | None = None
    basel_code: str | None = None  # "B3010", "GC010" (green); "A1010", "AC150" (amber)
    mixture: bool = False  # a mixture of wastes not listed in Annex IIIA
    contaminated: bool = False  # contaminated so that risks increase (Annex III notes)
    pops: bool = False  # POPs above the Annex IV limits of Regulation (EU) 2019/1021
    date: datetime.date | None = None  # shipment date; None = on/after 21 May 2026


@dataclass(frozen=True, slots=True)
class ShipmentProcedure:
    procedure: Procedure
    flags: tuple[str, ...]
    legal_basis: tuple[str, ...]
    documents: tuple[str, ...]
    indicative: str = INDICATIVE

    def as_dict(self) -> dict[str, str | list[str]]:
        return {
            "procedure": str(self.procedure),
            "flags": [str(f) for f in self.flags],
            "legal_basis": list(self.legal_basis),
            "documents": list(self.documents),
            "indicative": self.indicative,
        }


# --- the law, as article references ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Law:
    """Article references of one shipment regime (the EU texts, the UK retained text)."""

    name: str
    disposal: str
    amber: str
    unlisted: str
    mixture: str
    hazardous: str | None  # None: the regime has no hazardous-LoW trigger
    green: str
    mixed_municipal: str
    contamination: str
    notification: str
    contract: str
    guarantee: str
    consent: str
    disposal_conditions: str
    disposal_document: str
    interim: str
    electronic: str | None  # None: no mandatory electronic system
    classification: str
    domestic: str
    export_disposal_ban: str
    export_efta_procedure: str
    export_non_oecd_ban: str
    export_oecd_recovery: str
    import_disposal: str
    import_recovery: str

    def cite(self, article: str) -> str:
        return f"{self.name}, {article}"


_WSR_2024 = _Law(
    name="Regulation (EU) 2024/1157",
    disposal="Art. 4(1) (all waste destined for disposal)",
    amber="Art. 4(2) (waste listed in Annex IV, amber list)",
    unlisted="Art. 4(2) (waste not classified under one single entry in Annex III, IIIB or IV)",
    mixture="Art. 4(2) (mixture of wastes not listed in Annex IIIA)",
    hazardous="Art. 4(2)(d) (waste classified as hazardous, even if green-listed)",
    green="Art. 18 (general information requirements)",
    mixed_municipal="Art. 4 (mixed municipal waste 20 03 01 follows the disposal procedure)",
    contamination="Annex III, introductory notes (contamination increasing the risks)",
    notification="Art. 5 (notification)",
    contract="Art. 6",
    guarantee="Art. 7",
    consent="Art. 9 (consent of dispatch, destination and transit)",
    disposal_conditions="Art. 11 (conditions for shipments of waste destined for disposal)",
    disposal_document="justification of the disposal shipment: why the waste cannot be "
    "recovered or disposed of in the country of dispatch (Art. 11)",
    interim="Art. 15 (interim recovery and interim disposal)",
    electronic="Art. 27 (electronic submission via DIWASS)",
    classification="Art. 28 (disagreement on classification: treated as waste)",
    domestic="Title III (shipments within a Member State follow national rules)",
    export_disposal_ban="Art. 37(1) (exports for disposal prohibited)",
    export_efta_procedure="Art. 37 exception and Art. 38 (exports for disposal to EFTA "
    "countries that are Parties to the Basel Convention)",
    export_non_oecd_ban="Art. 39 (export of hazardous waste to non-OECD countries prohibited)",
    export_oecd_recovery="Title IV, Chapter 2 (exports for recovery to countries to which the "
    "OECD Decision applies)",
    import_disposal="Title V, Chapter 1 (imports for disposal only from Parties to the Basel "
    "Convention or under an agreement)",
    import_recovery="Title V, Chapter 2 (imports for recovery)",
)

_WSR_2006 = _Law(
    name="Regulation (EC) No 1013/2006",
    disposal="Art. 3(1)(a) (all waste destined for disposal)",
    amber="Art. 3(1)(b)(i)-(ii) (waste listed in Annex IV or IVA)",
    unlisted="Art. 3(1)(b)(iii) (waste not classified under one single entry in Annex III, "
    "IIIB, IV or IVA)",
    mixture="Art. 3(1)(b)(iv) (mixture of wastes not listed in Annex IIIA)",
    hazardous=None,
    green="Art. 3(2) and Art. 18 (general information requirements)",
    mixed_municipal="Art. 3(5) (mixed municipal waste 20 03 01 follows the disposal procedure)",
    contamination="Annex III, introductory notes (contamination increasing the risks)",
    notification="Art. 4 (notification)",
    contract="Art. 5",
    guarantee="Art. 6",
    consent="Art. 9 (consent of dispatch, destination and transit)",
    disposal_conditions="Art. 11 (objections to shipments of waste destined for disposal)",
    disposal_document="information answering the grounds for objection to disposal "
    "shipments (Art. 11: proximity, self-sufficiency, priority for recovery)",
    interim="Art. 15 (interim recovery and disposal operations)",
    electronic=None,
    classification="Art. 28 (disagreement on classification: treated as waste)",
    domestic="Title III, Art. 33 (shipments within a Member State follow national rules)",
    export_disposal_ban="Art. 34(1) (exports for disposal prohibited)",
    export_efta_procedure="Art. 34(2) and Art. 35 (exports for disposal to EFTA countries that "
    "are Parties to the Basel Convention)",
    export_non_oecd_ban="Art. 36 (export of hazardous waste to non-OECD countries prohibited)",
    export_oecd_recovery="Art. 38 (exports for recovery to countries to which the OECD "
    "Decision applies)",
    import_disposal="Art. 41 and 42 (imports for disposal only from Parties to the Basel "
    "Convention or under an agreement)",
    import_recovery="Art. 43 and 44 (imports for recovery)",
)

_UK_RETAINED = _Law(
    name="Regulation (EC) No 1013/2006 as retained in UK law",
    disposal=_WSR_2006.disposal,
    amber=_WSR_2006.amber,
    unlisted=_WSR_2006.unlisted,
    mixture=_WSR_2006.mixture,
    hazardous=None,
    green=_WSR_2006.green,
    mixed_municipal=_WSR_2006.mixed_municipal,
    contamination=_WSR_2006.contamination,
    notification=_WSR_2006.notification,
    contract=_WSR_2006.contract,
    guarantee=_WSR_2006.guarantee,
    consent=_WSR_2006.consent,
    disposal_conditions=_WSR_2006.disposal_conditions,
    disposal_document=_WSR_2006.disposal_document,
    interim=_WSR_2006.interim,
    electronic=None,
    classification=_WSR_2006.classification,
    domestic="national law of the United Kingdom",
    export_disposal_ban="Art. 34(1) and (5) (exports for disposal prohibited; EU/EFTA only on "
    "a reasoned request that the UK lacks capacity)",
    export_efta_procedure="Art. 35",
    export_non_oecd_ban="Art. 36 (export of hazardous waste to non-OECD countries prohibited)",
    export_oecd_recovery="Art. 38 (exports for recovery to countries to which the OECD "
    "Decision applies)",
    import_disposal="Art. 41 and 42 (imports for disposal)",
    import_recovery="Art. 43 and 44 (imports for recovery)",
)

_OECD_DECISION = "OECD Decision C(2001)107/FINAL, as amended (green and amber control procedures)"
_BASEL_NOTIFICATION = "Basel Convention, Art. 6 (prior informed consent)"
_BASEL_NON_PARTY = (
    "Basel Convention, Art. 4(5) (no shipments to or from non-Parties without an Art. 11 agreement)"
)
_BASEL_BAN = (
    "Basel Convention, Art. 4A (Ban Amendment: no hazardous waste from Annex VII countries)"
)
_BASEL_Y46 = "Basel Convention, Annex II, Y46 (household waste: notification)"
_UK_PLAN = (
    "UK Plan for Shipments of Waste (as amended 16 September 2021): self-sufficiency in "
    "disposal, shipments for disposal to or from the UK strictly limited"
)
_SWISS = "Swiss Ordinance on Movements of Waste (OMW/VeVA, SR 814.610)"
_WFD_DEFINITION = "Directive 2008/98/EC, Art. 3(1) (definition of waste)"
_WFD_BY_PRODUCT = "Directive 2008/98/EC, Art. 5 (by-products)"
_WFD_END_OF_WASTE = "Directive 2008/98/EC, Art. 6 (end-of-waste status)"
_EU_EOW_REGULATIONS = (
    "Regulation (EU) No 333/2011 (iron, steel and aluminium scrap), Regulation (EU) "
    "No 1179/2012 (glass cullet) and Regulation (EU) No 715/2013 (copper scrap): EU-wide "
    "end-of-waste criteria"
)
_POPS_2019 = "Regulation (EU) 2019/1021, Art. 7 and Annex IV (waste containing POPs)"
_POPS_2004 = "Regulation (EC) No 850/2004, Art. 7 and Annex IV (waste containing POPs)"

# --- documents -------------------------------------------------------------------------------

_DOC_INTERIM = "interim operation: information on the subsequent final recovery/disposal facility"
_DOC_TRANSIT = "transit: consent of the competent authority of each transit country (Art. 9)"
_DOC_EOW_STATEMENT = (
    "statement of conformity under the applicable EU end-of-waste regulation "
    "(333/2011, 1179/2012 or 715/2013)"
)
_DOC_NATIONAL_DECISIONS = (
    "the by-product / end-of-waste decisions (or written agreement) of the authorities "
    "of both countries"
)


def _general_information_documents(law: _Law | None) -> list[str]:
    docs = ["Annex VII document (movement information)"]
    article = " (Art. 18(2))" if law is not None else ""
    docs.append("contract between the person who arranges the shipment and the consignee" + article)
    if law is not None and law.electronic is not None:
        docs.append("electronic submission via DIWASS (Art. 27)")
    return docs


def _notification_documents(law: _Law | None, *, disposal: bool) -> list[str]:
    if law is None:  # outside any EU-derived text: the OECD / Basel forms
        docs = [
            "prior written notification and movement document (OECD / Basel forms)",
            "written consent of the competent authorities of dispatch, destination and transit",
            "financial guarantee or equivalent insurance",
            "contract with the consignee",
        ]
    else:
        docs = [
            "prior written notification (Annex IA) and movement document (Annex IB)",
            "written consent of the competent authorities of dispatch, destination and transit",
            f"financial guarantee or equivalent insurance ({law.guarantee})",
            f"contract with the consignee ({law.contract})",
        ]
        if law.electronic is not None:
            docs.append("DIWASS registration and electronic submission (Art. 27)")
        else:
            docs.append(
                "notification and movement documents on paper or by agreed electronic exchange"
            )
    if disposal:
        docs.append(
            law.disposal_document
            if law is not None
            else "justification of the disposal shipment (Basel Convention, Art. 4(2)(d))"
        )
    docs.append(_DOC_TRANSIT)
    return docs


# --- input checks ----------------------------------------------------------------------------

_OPERATION = re.compile(r"^([RD])(\d{1,2})$")
_LOW_CODE = re.compile(r"^(\d{6})(\*?)$")
_BASEL_CODE = re.compile(r"^(?:[AB]\d{4}|G[A-H]\d{3}|A[A-D]\d{3}|EU\d{4}|Y\d{1,2})$")
_INTERIM_OPERATIONS = frozenset({"R12", "R13", "D13", "D14", "D15"})
_MIXED_MUNICIPAL_WASTE = "200301"
_COUNTRY_HINTS = {"UK": "use 'GB' for the United Kingdom", "EL": "use 'GR' for Greece"}


@dataclass(frozen=True, slots=True)
class _Checked:
    origin: Country
    destination: Country
    status: WasteStatus
    operation: str
    disposal: bool
    low_code: str | None
    hazardous: bool
    mirror: bool
    evidence: Evidence
    list_class: ListClass | None
    basel_code: str | None
    mixture: bool
    contaminated: bool
    pops: bool
    date: datetime.date | None


def _country(value: object, field_name: str) -> Country:
    code = value.strip().upper() if isinstance(value, str) else ""
    country = COUNTRIES.get(code)
    if country is None:
        hint = _COUNTRY_HINTS.get(code, "expected an ISO 3166-1 alpha-2 code of a known country")
        raise LegalInputError(field_name, f"unknown country code {value!r}; {hint}")
    return country


def _enum[E: StrEnum](kind: type[E], value: object, field_name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise LegalInputError(field_name, f"{value!r} is not one of: {choices}") from None


def _operation(value: object) -> tuple[str, bool]:
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    match = _OPERATION.match(text)
    if match is not None:
        letter, number = match.group(1), int(match.group(2))
        if 1 <= number <= (13 if letter == "R" else 15):
            return f"{letter}{number}", letter == "D"
    raise LegalInputError(
        "operation", f"{value!r} is not a recovery (R1-R13) or disposal (D1-D15) operation"
    )


def _low_code(value: object) -> tuple[str | None, bool]:
    if value is None:
        return None, False
    text = value.replace(" ", "") if isinstance(value, str) else ""
    match = _LOW_CODE.match(text)
    if match is None or not 1 <= int(match.group(1)[:2]) <= 20:  # chapters 01-20
        raise LegalInputError(
            "low_code", f"{value!r} is not a List of Waste code such as '100102' or '10 01 02*'"
        )
    return match.group(1), match.group(2) == "*"


def _basel_code(value: object) -> str | None:
    if value is None:
        return None
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not _BASEL_CODE.match(text):
        raise LegalInputError(
            "basel_code",
            f"{value!r} is not a Basel or OECD waste code such as 'B3010', 'A1010' or 'GC010'",
        )
    return text


def _date(value: object) -> datetime.date | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        value = value.date()
    if not isinstance(value, datetime.date):
        raise LegalInputError("date", f"{value!r} is not a date")
    if value < APPLICATION_DATE_1013_2006:
        raise LegalInputError(
            "date", f"{value.isoformat()} predates Regulation (EC) No 1013/2006 (12 July 2007)"
        )
    return value


def _check(question: ShipmentQuestion) -> _Checked:
    operation, disposal = _operation(question.operation)
    low_code, asterisk = _low_code(question.low_code)
    return _Checked(
        origin=_country(question.origin, "origin"),
        destination=_country(question.destination, "destination"),
        status=_enum(WasteStatus, question.waste_status, "waste_status"),
        operation=operation,
        disposal=disposal,
        low_code=low_code,
        hazardous=bool(question.hazardous) or asterisk,
        mirror=bool(question.mirror),
        evidence=_enum(Evidence, question.evidence, "evidence"),
        list_class=(
            None
            if question.list_class is None
            else _enum(ListClass, question.list_class, "list_class")
        ),
        basel_code=_basel_code(question.basel_code),
        mixture=bool(question.mixture),
        contaminated=bool(question.contaminated),
        pops=bool(question.pops),
        date=_date(question.date),
    )


# --- the decision ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Answer:
    """Collects flags, legal basis and documents in order, without duplicates."""

    flags: list[str] = field(default_factory=list)
    basis: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)

    def flag(self, *flags: str) -> None:
        self.flags.extend(f for f in flags if f not in self.flags)

    def cite(self, *basis: str) -> None:
        self.basis.extend(b for b in basis if b not in self.basis)

    def need(self, *documents: str) -> None:
        self.documents.extend(d for d in documents if d not in self.documents)

    def done(self, procedure: Procedure) -> ShipmentProcedure:
        return ShipmentProcedure(
            procedure=procedure,
            flags=tuple(self.flags),
            legal_basis=tuple(self.basis),
            documents=tuple(self.documents),
        )


def _in_union(country: Country, on: datetime.date | None) -> bool:
    """EU/EEA, and the United Kingdom until the end of the Brexit transition period."""
    if country.code == "GB" and on is not None and on < UK_RETAINED_REGIME_FROM:
        return True
    return country.in_eu_or_eea


def _is_uk_regime(country: Country, on: datetime.date | None) -> bool:
    return country.code == "GB" and not _in_union(country, on)


def _basel_annex_vii(country: Country, on: datetime.date | None) -> bool:
    """Basel Annex VII: OECD members, the EU and Liechtenstein (the Ban Amendment's exporters)."""
    return country.oecd or _in_union(country, on)


def _national_basis(country: Country, on: datetime.date | None) -> str:
    if _is_uk_regime(country, on):
        return _UK_RETAINED.cite(_UK_RETAINED.domestic)
    if country.code == "CH":
        return _SWISS
    return f"national law of {country.name}"


def _effective_list_class(q: _Checked, answer: _Answer) -> ListClass:
    implied: ListClass | None = None
    if q.basel_code is not None:
        implied = ListClass.AMBER if q.basel_code[0] in "AY" else ListClass.GREEN
    if q.list_class is not None:
        if implied is not None and implied != q.list_class:
            answer.flag(Flag.LIST_CLASS_OVERRIDES_BASEL_CODE)
        return q.list_class
    if implied is not None:
        return implied
    answer.flag(Flag.LIST_CLASS_UNKNOWN)
    return ListClass.UNLISTED


def _non_waste(q: _Checked, law: _Law | None, answer: _Answer) -> ShipmentProcedure | None:
    """Rows 2-4: returns the "none" answer, or None after flagging that it is treated as waste."""
    status = q.status
    if status in (WasteStatus.WASTE, WasteStatus.UNKNOWN):
        if status is WasteStatus.UNKNOWN:
            answer.flag(Flag.WASTE_STATUS_UNKNOWN)
            answer.cite(_WFD_DEFINITION)
        return None
    if q.disposal:  # sending something to a D operation is discarding it
        answer.flag(Flag.DISPOSAL_IMPLIES_WASTE)
        answer.cite(_WFD_DEFINITION)
        return None
    if status is WasteStatus.PRODUCT:
        answer.flag(Flag.NOT_WASTE_CLAIMED)
        answer.cite(_WFD_DEFINITION)
        if law is not None:
            answer.cite(law.cite(law.classification))
        return answer.done(Procedure.NONE)

    both_union = _in_union(q.origin, q.date) and _in_union(q.destination, q.date)
    wfd = _WFD_BY_PRODUCT if status is WasteStatus.BY_PRODUCT else _WFD_END_OF_WASTE
    if q.evidence is Evidence.NATIONAL_BOTH:
        answer.flag(Flag.NOT_WASTE_RECOGNISED_BOTH_SIDES)
        answer.cite(wfd)
        answer.need(_DOC_NATIONAL_DECISIONS)
        return answer.done(Procedure.NONE)
    if q.evidence is Evidence.EU_REGULATION:
        if status is not WasteStatus.END_OF_WASTE:
            answer.flag(Flag.EU_REGULATION_IS_END_OF_WASTE_ONLY)
        elif both_union:
            answer.flag(Flag.EU_END_OF_WASTE_REGULATION)
            answer.cite(_WFD_END_OF_WASTE, _EU_EOW_REGULATIONS)
            answer.need(_DOC_EOW_STATEMENT)
            return answer.done(Procedure.NONE)
        else:
            answer.flag(Flag.EU_REGULATION_NOT_RECOGNISED_OUTSIDE_EU)
    answer.flag(Flag.STATUS_NOT_RECOGNISED_BOTH_SIDES)
    answer.cite(wfd)
    if law is not None:
        answer.cite(law.cite(law.classification))
    return None


def _recovery_triggers(
    q: _Checked, law: _Law | None, list_class: ListClass, answer: _Answer, *, eu_law: bool
) -> bool:
    """Row 17: cite every reason for prior notification; True if there is at least one."""
    found = False

    def trigger(flag: Flag, basis: str | None) -> None:
        nonlocal found
        found = True
        answer.flag(flag)
        if basis is not None:
            answer.cite(basis)

    def art(article: str) -> str | None:
        return law.cite(article) if law is not None else None

    if list_class is ListClass.AMBER:
        trigger(Flag.AMBER_LISTED, art(law.amber) if law else _OECD_DECISION)
    elif list_class is ListClass.UNLISTED:
        trigger(Flag.UNLISTED, art(law.unlisted) if law else _OECD_DECISION)
    if q.mixture:
        trigger(Flag.MIXTURE, art(law.mixture) if law else _OECD_DECISION)
    if q.low_code == _MIXED_MUNICIPAL_WASTE:
        trigger(Flag.MIXED_MUNICIPAL_WASTE, _BASEL_Y46)
    if q.hazardous:
        if eu_law and law is not None and law.hazardous is not None:
            trigger(Flag.HAZARDOUS_LOW, law.cite(law.hazardous))
        elif not eu_law:
            answer.flag(Flag.HAZARDOUS_LOW_EU_ONLY)
    elif q.mirror:
        answer.flag(Flag.MIRROR_ENTRY)
    if q.contaminated:
        trigger(Flag.CONTAMINATED, art(law.contamination) if law else _OECD_DECISION)
    if q.pops:
        pops_law = _POPS_2004 if q.date is not None and q.date < POPS_RECAST_FROM else _POPS_2019
        trigger(Flag.POPS, pops_law)
    return found


def _recovery(q: _Checked, law: _Law | None, answer: _Answer, *, eu_law: bool) -> ShipmentProcedure:
    """Rows 15-19 for an R operation."""
    list_class = _effective_list_class(q, answer)
    destination_open = q.destination.oecd or _in_union(q.destination, q.date)
    if not destination_open:
        if _basel_annex_vii(q.origin, q.date) and (q.hazardous or list_class is ListClass.AMBER):
            answer.flag(Flag.HAZARDOUS_TO_NON_OECD)
            if law is not None:
                answer.cite(law.cite(law.export_non_oecd_ban))
            answer.cite(_BASEL_BAN)
            return answer.done(Procedure.PROHIBITED)
        answer.flag(Flag.NON_OECD_COUNTRY_RULES)
    if not q.origin.oecd and not _in_union(q.origin, q.date):
        answer.flag(Flag.NON_OECD_COUNTRY_RULES)
    conservative = Flag.NON_OECD_COUNTRY_RULES in answer.flags
    if _recovery_triggers(q, law, list_class, answer, eu_law=eu_law) or conservative:
        if law is not None:
            answer.cite(law.cite(law.notification), law.cite(law.consent))
            if law.electronic is not None:
                answer.cite(law.cite(law.electronic))
        else:
            answer.cite(_BASEL_NOTIFICATION)
        answer.flag(Flag.TRANSIT)
        answer.need(*_notification_documents(law, disposal=False))
        return answer.done(Procedure.NOTIFICATION)
    if law is not None:
        answer.cite(law.cite(law.green))
        if law.electronic is not None:
            answer.cite(law.cite(law.electronic))
    answer.need(*_general_information_documents(law))
    return answer.done(Procedure.GENERAL_INFORMATION)


def _disposal_notification(law: _Law | None, answer: _Answer) -> ShipmentProcedure:
    if law is not None:
        answer.cite(
            law.cite(law.notification),
            law.cite(law.consent),
            law.cite(law.disposal_conditions),
        )
        if law.electronic is not None:
            answer.cite(law.cite(law.electronic))
    answer.flag(Flag.TRANSIT)
    answer.need(*_notification_documents(law, disposal=True))
    return answer.done(Procedure.NOTIFICATION_DISPOSAL)


def _uk_disposal_ban(q: _Checked, answer: _Answer) -> ShipmentProcedure | None:
    """Rows 9-10: the UK keeps disposal at home both ways (UK Plan)."""
    if _is_uk_regime(q.origin, q.date):
        answer.flag(Flag.EXPORT_FOR_DISPOSAL_PROHIBITED)
        answer.cite(_UK_RETAINED.cite(_UK_RETAINED.export_disposal_ban))
    elif _is_uk_regime(q.destination, q.date):
        answer.cite(_UK_RETAINED.cite(_UK_RETAINED.import_disposal))
    else:
        return None
    answer.flag(Flag.UK_DISPOSAL_SELF_SUFFICIENCY, Flag.NARROW_EXCEPTIONS)
    answer.cite(_UK_PLAN)
    return answer.done(Procedure.PROHIBITED)


def _third_country_basis(country: Country, on: datetime.date | None, *, exporting: bool) -> str:
    if _is_uk_regime(country, on):
        article = _UK_RETAINED.export_oecd_recovery if exporting else _UK_RETAINED.import_recovery
        return _UK_RETAINED.cite(article)
    return _national_basis(country, on)


def shipment_procedure(question: ShipmentQuestion) -> ShipmentProcedure:
    """The indicative procedure for shipping ``question``'s material (see the module table)."""
    q = _check(question)
    answer = _Answer()
    new_regime = q.date is None or q.date >= APPLICATION_DATE_2024_1157
    eu = _WSR_2024 if new_regime else _WSR_2006
    origin_union = _in_union(q.origin, q.date)
    destination_union = _in_union(q.destination, q.date)

    # Row 1: domestic.
    if q.origin.code == q.destination.code:
        answer.flag(Flag.DOMESTIC)
        if origin_union:
            answer.cite(eu.cite(eu.domestic))
        answer.cite(_national_basis(q.origin, q.date))
        return answer.done(Procedure.NONE)

    if not new_regime and (origin_union or destination_union):
        answer.flag(Flag.PRE_2024_1157)
    if any(c.eea and not c.eu for c in (q.origin, q.destination)):
        answer.flag(Flag.EEA_EFTA_STATE)

    # The text that governs: the EU regulation when one side is in the Union; otherwise the UK
    # retained regulation when GB is a side; otherwise only the OECD Decision / Basel Convention.
    if origin_union or destination_union:
        law: _Law | None = eu
    elif _is_uk_regime(q.origin, q.date) or _is_uk_regime(q.destination, q.date):
        law = _UK_RETAINED
    else:
        law = None

    # Rows 2-4: is it waste at all?
    not_waste = _non_waste(q, law, answer)
    if not_waste is not None:
        return not_waste

    interim = q.operation in _INTERIM_OPERATIONS
    if interim:
        answer.flag(Flag.INTERIM_OPERATION)
        if law is not None:
            answer.cite(law.cite(law.interim))

    if origin_union or destination_union:
        result = _union_waste_procedure(q, eu, answer, origin_union, destination_union)
    else:
        result = _third_country_waste_procedure(q, law, answer)
    if interim and result.procedure is not Procedure.PROHIBITED:
        return ShipmentProcedure(
            procedure=result.procedure,
            flags=result.flags,
            legal_basis=result.legal_basis,
            documents=(*result.documents, _DOC_INTERIM),
        )
    return result


def _union_waste_procedure(
    q: _Checked, law: _Law, answer: _Answer, origin_union: bool, destination_union: bool
) -> ShipmentProcedure:
    """Rows 5-18 for waste with at least one side in the Union (EU regulation applies)."""
    if origin_union and destination_union:  # Title II: within the Union
        if q.disposal:
            answer.cite(law.cite(law.disposal))
            return _disposal_notification(law, answer)
        if q.low_code == _MIXED_MUNICIPAL_WASTE:
            answer.flag(Flag.MIXED_MUNICIPAL_WASTE)
            answer.cite(law.cite(law.mixed_municipal))
            return _disposal_notification(law, answer)
        return _recovery(q, law, answer, eu_law=True)

    if origin_union:  # Title IV: export from the Union
        if q.disposal:
            if q.destination.efta and q.destination.basel_party:
                answer.cite(law.cite(law.export_efta_procedure))
                answer.cite(_national_basis(q.destination, q.date))
                return _disposal_notification(law, answer)
            answer.flag(Flag.EXPORT_FOR_DISPOSAL_PROHIBITED)
            answer.cite(law.cite(law.export_disposal_ban))
            if _is_uk_regime(q.destination, q.date):
                answer.flag(Flag.UK_DISPOSAL_SELF_SUFFICIENCY)
                answer.cite(_UK_PLAN)
            return answer.done(Procedure.PROHIBITED)
        if q.destination.oecd:
            answer.cite(law.cite(law.export_oecd_recovery), _OECD_DECISION)
            answer.cite(_third_country_basis(q.destination, q.date, exporting=False))
        return _recovery(q, law, answer, eu_law=True)

    # Title V: import into the Union
    if q.disposal:
        banned = _uk_disposal_ban(q, answer)
        if banned is not None:
            return banned
        answer.cite(law.cite(law.import_disposal))
        if not q.origin.basel_party:
            answer.flag(Flag.IMPORT_FROM_NON_BASEL_PARTY, Flag.NARROW_EXCEPTIONS)
            return answer.done(Procedure.PROHIBITED)
        answer.cite(_national_basis(q.origin, q.date))
        return _disposal_notification(law, answer)
    answer.cite(law.cite(law.import_recovery))
    if q.origin.oecd:
        answer.cite(_OECD_DECISION)
    answer.cite(_third_country_basis(q.origin, q.date, exporting=True))
    return _recovery(q, law, answer, eu_law=True)


def _third_country_waste_procedure(
    q: _Checked, law: _Law | None, answer: _Answer
) -> ShipmentProcedure:
    """Rows 9-10, 13-19 for waste with neither side in the Union (e.g. GB <-> CH)."""
    # Neither side in the Union (e.g. GB <-> CH): the OECD Decision between OECD members,
    # otherwise the Basel Convention; the UK retained regulation on the UK side.
    both_oecd = q.origin.oecd and q.destination.oecd
    answer.flag(Flag.OUTSIDE_EU_OECD if both_oecd else Flag.OUTSIDE_EU_BASEL)
    for country, exporting in ((q.origin, True), (q.destination, False)):
        if not _is_uk_regime(country, q.date):
            answer.cite(_national_basis(country, q.date))
        elif not q.disposal:
            answer.cite(_third_country_basis(country, q.date, exporting=exporting))
    if q.disposal:
        banned = _uk_disposal_ban(q, answer)
        if banned is not None:
            return banned
        if q.origin.basel_party and q.destination.basel_party:
            answer.cite(_BASEL_NOTIFICATION)
            return _disposal_notification(law, answer)
        answer.cite(_BASEL_NON_PARTY)
        return answer.done(Procedure.PROHIBITED)
    if both_oecd:
        answer.cite(_OECD_DECISION)
    return _recovery(q, law, answer, eu_law=False)
