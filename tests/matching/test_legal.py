"""matching.legal: the indicative shipment procedure (pure; no database)."""

from __future__ import annotations

import ast
import datetime
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harbors.countries import COUNTRIES
from matching import legal
from matching.legal import (
    INDICATIVE,
    PROCEDURE_SCORE,
    Evidence,
    Flag,
    LegalInputError,
    ListClass,
    Procedure,
    ShipmentQuestion,
    WasteStatus,
    legal_score,
    shipment_procedure,
)

W = WasteStatus
P = Procedure
GREEN = ListClass.GREEN
AMBER = ListClass.AMBER
BEFORE = datetime.date(2025, 6, 1)  # Regulation (EC) No 1013/2006 still applies
AFTER = datetime.date(2026, 6, 1)  # Regulation (EU) 2024/1157 applies


def ask(origin: str, destination: str, status: WasteStatus = W.WASTE, operation: str = "R4", **kw):
    return shipment_procedure(
        ShipmentQuestion(
            origin=origin, destination=destination, waste_status=status, operation=operation, **kw
        )
    )


# (origin, destination, status, operation, extra fields, expected procedure, expected flags)
CASES = [
    # Row 1: domestic.
    ("NL", "NL", W.WASTE, "D1", {}, P.NONE, {Flag.DOMESTIC}),
    ("GB", "GB", W.WASTE, "R5", {"list_class": AMBER}, P.NONE, {Flag.DOMESTIC}),
    # Row 2: a genuine product is outside the regulation.
    ("BE", "NL", W.PRODUCT, "R3", {}, P.NONE, {Flag.NOT_WASTE_CLAIMED}),
    # Row 3: recognised on both sides.
    (
        "BE",
        "NL",
        W.END_OF_WASTE,
        "R4",
        {"evidence": Evidence.EU_REGULATION},
        P.NONE,
        {Flag.EU_END_OF_WASTE_REGULATION},
    ),
    (
        "DE",
        "NO",
        W.END_OF_WASTE,
        "R5",
        {"evidence": Evidence.EU_REGULATION},
        P.NONE,
        {Flag.EU_END_OF_WASTE_REGULATION, Flag.EEA_EFTA_STATE},
    ),
    (
        "NL",
        "BE",
        W.BY_PRODUCT,
        "R3",
        {"evidence": Evidence.NATIONAL_BOTH},
        P.NONE,
        {Flag.NOT_WASTE_RECOGNISED_BOTH_SIDES},
    ),
    (
        "GB",
        "NL",
        W.END_OF_WASTE,
        "R4",
        {"evidence": Evidence.NATIONAL_BOTH},
        P.NONE,
        {Flag.NOT_WASTE_RECOGNISED_BOTH_SIDES},
    ),
    # Row 4: not recognised on both sides -> waste.
    (
        "NL",
        "GB",
        W.END_OF_WASTE,
        "R4",
        {"evidence": Evidence.EU_REGULATION, "list_class": GREEN},
        P.GENERAL_INFORMATION,
        {Flag.EU_REGULATION_NOT_RECOGNISED_OUTSIDE_EU, Flag.STATUS_NOT_RECOGNISED_BOTH_SIDES},
    ),
    (
        "DE",
        "CH",
        W.END_OF_WASTE,
        "R4",
        {"evidence": Evidence.EU_REGULATION, "list_class": GREEN},
        P.GENERAL_INFORMATION,
        {Flag.STATUS_NOT_RECOGNISED_BOTH_SIDES},
    ),
    (
        "BE",
        "NL",
        W.BY_PRODUCT,
        "R5",
        {"evidence": Evidence.EU_REGULATION, "list_class": GREEN},
        P.GENERAL_INFORMATION,
        {Flag.EU_REGULATION_IS_END_OF_WASTE_ONLY, Flag.STATUS_NOT_RECOGNISED_BOTH_SIDES},
    ),
    (
        "NL",
        "DE",
        W.BY_PRODUCT,
        "R3",
        {"evidence": Evidence.NATIONAL_ORIGIN, "list_class": AMBER},
        P.NOTIFICATION,
        {Flag.STATUS_NOT_RECOGNISED_BOTH_SIDES, Flag.AMBER_LISTED},
    ),
    (
        "FR",
        "BE",
        W.END_OF_WASTE,
        "R5",
        {"evidence": Evidence.SELF_DECLARED, "list_class": GREEN},
        P.GENERAL_INFORMATION,
        {Flag.STATUS_NOT_RECOGNISED_BOTH_SIDES},
    ),
    (
        "BE",
        "NL",
        W.UNKNOWN,
        "R5",
        {"basel_code": "B3010"},
        P.GENERAL_INFORMATION,
        {Flag.WASTE_STATUS_UNKNOWN},
    ),
    (
        "BE",
        "NL",
        W.PRODUCT,
        "D1",
        {},
        P.NOTIFICATION_DISPOSAL,
        {Flag.DISPOSAL_IMPLIES_WASTE},
    ),
    # Row 5: disposal within the Union.
    ("BE", "NL", W.WASTE, "D1", {}, P.NOTIFICATION_DISPOSAL, {Flag.TRANSIT}),
    # Row 6: mixed municipal waste for recovery follows the disposal procedure.
    (
        "NL",
        "DE",
        W.WASTE,
        "R1",
        {"low_code": "20 03 01"},
        P.NOTIFICATION_DISPOSAL,
        {Flag.MIXED_MUNICIPAL_WASTE},
    ),
    # Row 7: disposal to an EFTA Basel Party.
    ("DE", "CH", W.WASTE, "D10", {}, P.NOTIFICATION_DISPOSAL, {Flag.TRANSIT}),
    # Row 8: disposal to GB.
    ("NL", "GB", W.WASTE, "D10", {}, P.PROHIBITED, {Flag.EXPORT_FOR_DISPOSAL_PROHIBITED}),
    ("FR", "US", W.WASTE, "D1", {}, P.PROHIBITED, {Flag.EXPORT_FOR_DISPOSAL_PROHIBITED}),
    # Row 9: disposal from GB.
    (
        "GB",
        "NL",
        W.WASTE,
        "D1",
        {},
        P.PROHIBITED,
        {Flag.UK_DISPOSAL_SELF_SUFFICIENCY, Flag.NARROW_EXCEPTIONS},
    ),
    (
        "GB",
        "CH",
        W.WASTE,
        "D10",
        {},
        P.PROHIBITED,
        {Flag.UK_DISPOSAL_SELF_SUFFICIENCY, Flag.OUTSIDE_EU_OECD},
    ),
    # Row 10: disposal into GB.
    ("CH", "GB", W.WASTE, "D10", {}, P.PROHIBITED, {Flag.UK_DISPOSAL_SELF_SUFFICIENCY}),
    # Row 11: disposal into the Union from a Basel Party.
    ("CH", "DE", W.WASTE, "D1", {}, P.NOTIFICATION_DISPOSAL, {Flag.TRANSIT}),
    # Row 12: disposal into the Union from a non-Party.
    ("US", "NL", W.WASTE, "D1", {}, P.PROHIBITED, {Flag.IMPORT_FROM_NON_BASEL_PARTY}),
    # Row 13/14: disposal between third countries.
    ("CH", "JP", W.WASTE, "D10", {}, P.NOTIFICATION_DISPOSAL, {Flag.OUTSIDE_EU_OECD}),
    ("CH", "US", W.WASTE, "D10", {}, P.PROHIBITED, {Flag.OUTSIDE_EU_OECD}),
    # Row 15: hazardous waste to a non-OECD country.
    (
        "DE",
        "CN",
        W.WASTE,
        "R4",
        {"basel_code": "A1010", "hazardous": True},
        P.PROHIBITED,
        {Flag.HAZARDOUS_TO_NON_OECD},
    ),
    (
        "GB",
        "IN",
        W.WASTE,
        "R4",
        {"list_class": AMBER},
        P.PROHIBITED,
        {Flag.HAZARDOUS_TO_NON_OECD, Flag.OUTSIDE_EU_BASEL},
    ),
    # Row 16: other non-OECD legs.
    (
        "NL",
        "MA",
        W.WASTE,
        "R3",
        {"list_class": GREEN},
        P.NOTIFICATION,
        {Flag.NON_OECD_COUNTRY_RULES},
    ),
    # Row 17: notification triggers (EU <-> EU).
    ("BE", "NL", W.WASTE, "R4", {"list_class": AMBER}, P.NOTIFICATION, {Flag.AMBER_LISTED}),
    ("BE", "NL", W.WASTE, "R4", {"basel_code": "AC150"}, P.NOTIFICATION, {Flag.AMBER_LISTED}),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": ListClass.UNLISTED},
        P.NOTIFICATION,
        {Flag.UNLISTED},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {},
        P.NOTIFICATION,
        {Flag.UNLISTED, Flag.LIST_CLASS_UNKNOWN},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "mixture": True},
        P.NOTIFICATION,
        {Flag.MIXTURE},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "hazardous": True},
        P.NOTIFICATION,
        {Flag.HAZARDOUS_LOW},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "low_code": "10 03 08*"},
        P.NOTIFICATION,
        {Flag.HAZARDOUS_LOW},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R5",
        {"basel_code": "B1010", "contaminated": True},
        P.NOTIFICATION,
        {Flag.CONTAMINATED},
    ),
    ("BE", "NL", W.WASTE, "R1", {"list_class": GREEN, "pops": True}, P.NOTIFICATION, {Flag.POPS}),
    (
        "CH",
        "DE",
        W.WASTE,
        "R1",
        {"list_class": GREEN, "low_code": "200301"},
        P.NOTIFICATION,
        {Flag.MIXED_MUNICIPAL_WASTE},
    ),
    # Row 17: EU <-> CH, EU <-> GB.
    ("CH", "DE", W.WASTE, "R4", {"list_class": AMBER}, P.NOTIFICATION, {Flag.AMBER_LISTED}),
    ("DE", "CH", W.WASTE, "R4", {"basel_code": "A1010"}, P.NOTIFICATION, {Flag.AMBER_LISTED}),
    (
        "GB",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "hazardous": True},
        P.NOTIFICATION,
        {Flag.HAZARDOUS_LOW},
    ),
    # Row 18: green-listed, no trigger.
    ("BE", "NL", W.WASTE, "R4", {"basel_code": "B1010"}, P.GENERAL_INFORMATION, set()),
    ("DE", "CH", W.WASTE, "R4", {"list_class": GREEN}, P.GENERAL_INFORMATION, set()),
    ("CH", "DE", W.WASTE, "R3", {"basel_code": "B3020"}, P.GENERAL_INFORMATION, set()),
    ("NL", "GB", W.WASTE, "R3", {"basel_code": "GC010"}, P.GENERAL_INFORMATION, set()),
    ("GB", "NL", W.WASTE, "R5", {"list_class": GREEN}, P.GENERAL_INFORMATION, set()),
    (
        "NL",
        "DE",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "low_code": "170405", "mirror": True},
        P.GENERAL_INFORMATION,
        {Flag.MIRROR_ENTRY},
    ),
    # Row 19: GB <-> CH under the OECD Decision.
    (
        "GB",
        "CH",
        W.WASTE,
        "R4",
        {"list_class": GREEN},
        P.GENERAL_INFORMATION,
        {Flag.OUTSIDE_EU_OECD},
    ),
    (
        "CH",
        "GB",
        W.WASTE,
        "R4",
        {"list_class": AMBER},
        P.NOTIFICATION,
        {Flag.OUTSIDE_EU_OECD, Flag.AMBER_LISTED},
    ),
    (
        "GB",
        "CH",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "hazardous": True},
        P.GENERAL_INFORMATION,
        {Flag.OUTSIDE_EU_OECD, Flag.HAZARDOUS_LOW_EU_ONLY},
    ),
    # Dates: before 21 May 2026 the hazardous-LoW trigger does not exist yet.
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "hazardous": True, "date": BEFORE},
        P.GENERAL_INFORMATION,
        {Flag.PRE_2024_1157},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "hazardous": True, "date": AFTER},
        P.NOTIFICATION,
        {Flag.HAZARDOUS_LOW},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": AMBER, "date": BEFORE},
        P.NOTIFICATION,
        {Flag.PRE_2024_1157, Flag.AMBER_LISTED},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "hazardous": True, "date": datetime.date(2026, 5, 20)},
        P.GENERAL_INFORMATION,
        {Flag.PRE_2024_1157},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "hazardous": True, "date": datetime.date(2026, 5, 21)},
        P.NOTIFICATION,
        {Flag.HAZARDOUS_LOW},
    ),
    # GB was inside the Union until the end of 2020.
    (
        "GB",
        "NL",
        W.WASTE,
        "D1",
        {"date": datetime.date(2019, 6, 1)},
        P.NOTIFICATION_DISPOSAL,
        {Flag.PRE_2024_1157},
    ),
    # Interim operations.
    (
        "BE",
        "NL",
        W.WASTE,
        "R13",
        {"list_class": AMBER},
        P.NOTIFICATION,
        {Flag.INTERIM_OPERATION},
    ),
    (
        "BE",
        "NL",
        W.WASTE,
        "R12",
        {"list_class": GREEN},
        P.GENERAL_INFORMATION,
        {Flag.INTERIM_OPERATION},
    ),
    ("BE", "NL", W.WASTE, "D15", {}, P.NOTIFICATION_DISPOSAL, {Flag.INTERIM_OPERATION}),
    # list_class wins over a conflicting Basel code, and says so.
    (
        "BE",
        "NL",
        W.WASTE,
        "R4",
        {"list_class": GREEN, "basel_code": "A1010"},
        P.GENERAL_INFORMATION,
        {Flag.LIST_CLASS_OVERRIDES_BASEL_CODE},
    ),
]

CASE_IDS = [
    "domestic-NL-NL-disposal",
    "domestic-GB-GB-amber",
    "product-BE-NL",
    "eu-eow-regulation-BE-NL",
    "eu-eow-regulation-DE-NO-eea",
    "by-product-national-both-NL-BE",
    "eow-national-both-GB-NL",
    "eu-eow-regulation-NL-GB-is-waste",
    "eu-eow-regulation-DE-CH-is-waste",
    "eu-regulation-not-for-by-products",
    "national-origin-only-is-waste",
    "self-declared-is-waste",
    "unknown-status-is-waste",
    "product-for-disposal-is-waste",
    "disposal-BE-NL",
    "mixed-municipal-waste-R1-NL-DE",
    "disposal-DE-CH-efta",
    "disposal-NL-GB-prohibited",
    "disposal-FR-US-prohibited",
    "disposal-GB-NL-prohibited",
    "disposal-GB-CH-prohibited",
    "disposal-CH-GB-prohibited",
    "disposal-CH-DE",
    "disposal-US-NL-non-basel",
    "disposal-CH-JP",
    "disposal-CH-US-non-basel",
    "hazardous-DE-CN-prohibited",
    "amber-GB-IN-prohibited",
    "green-NL-MA-non-oecd",
    "amber-BE-NL",
    "amber-basel-code-BE-NL",
    "unlisted-BE-NL",
    "no-list-class-BE-NL",
    "mixture-BE-NL",
    "hazardous-green-BE-NL",
    "hazardous-asterisk-BE-NL",
    "contaminated-BE-NL",
    "pops-BE-NL",
    "mixed-municipal-waste-CH-DE",
    "amber-CH-DE",
    "amber-DE-CH",
    "hazardous-green-GB-NL",
    "green-BE-NL",
    "green-DE-CH",
    "green-CH-DE",
    "green-NL-GB",
    "green-GB-NL",
    "green-mirror-NL-DE",
    "green-GB-CH-oecd",
    "amber-CH-GB-oecd",
    "hazardous-green-GB-CH-oecd",
    "pre-2026-hazardous-green",
    "post-2026-hazardous-green",
    "pre-2026-amber",
    "day-before-application",
    "day-of-application",
    "GB-in-union-2019",
    "interim-R13",
    "interim-R12-green",
    "interim-D15",
    "list-class-overrides-basel-code",
]


@pytest.mark.parametrize(
    ("origin", "destination", "status", "operation", "extra", "procedure", "flags"),
    CASES,
    ids=CASE_IDS,
)
def test_shipment_procedure_decision_table(
    origin, destination, status, operation, extra, procedure, flags
):
    result = ask(origin, destination, status, operation, **extra)

    assert result.procedure is procedure
    assert flags <= set(result.flags), result.flags
    assert result.indicative == INDICATIVE
    assert result.legal_basis, "every answer cites its basis"


def test_case_ids_match_cases():
    assert len(CASE_IDS) == len(CASES)
    assert len(set(CASE_IDS)) == len(CASE_IDS)


@pytest.mark.parametrize(
    ("origin", "destination"),
    [("BE", "NL"), ("DE", "CH"), ("CH", "DE"), ("NL", "GB"), ("GB", "NL")],
    ids=["EU-EU", "EU-CH", "CH-EU", "EU-GB", "GB-EU"],
)
def test_shipment_procedure_green_documents(origin, destination):
    result = ask(origin, destination, list_class=GREEN)

    assert result.procedure is P.GENERAL_INFORMATION
    assert result.documents == (
        "Annex VII document (movement information)",
        "contract between the person who arranges the shipment and the consignee (Art. 18(2))",
        "electronic submission via DIWASS (Art. 27)",
    )
    assert "Regulation (EU) 2024/1157, Art. 18 (general information requirements)" in (
        result.legal_basis
    )


def test_shipment_procedure_notification_documents():
    result = ask("BE", "NL", list_class=AMBER)

    assert result.documents[:5] == (
        "prior written notification (Annex IA) and movement document (Annex IB)",
        "written consent of the competent authorities of dispatch, destination and transit",
        "financial guarantee or equivalent insurance (Art. 7)",
        "contract with the consignee (Art. 6)",
        "DIWASS registration and electronic submission (Art. 27)",
    )
    assert any(doc.startswith("transit:") for doc in result.documents)
    assert Flag.TRANSIT in result.flags


def test_shipment_procedure_disposal_adds_art_11_justification():
    result = ask("BE", "NL", operation="D1")

    assert any("Art. 11" in doc for doc in result.documents)
    assert "Regulation (EU) 2024/1157, Art. 4(1) (all waste destined for disposal)" in (
        result.legal_basis
    )


def test_shipment_procedure_hazardous_green_cites_art_4_2_d():
    result = ask("BE", "NL", list_class=GREEN, hazardous=True)

    assert any(
        basis.startswith("Regulation (EU) 2024/1157, Art. 4(2)(d)")
        for basis in (result.legal_basis)
    )


def test_shipment_procedure_pre_2026_cites_regulation_1013_2006():
    result = ask("BE", "NL", list_class=AMBER, date=BEFORE)

    assert all("2024/1157" not in basis for basis in result.legal_basis)
    assert any(basis.startswith("Regulation (EC) No 1013/2006") for basis in result.legal_basis)
    assert all("DIWASS" not in doc for doc in result.documents)
    assert "financial guarantee or equivalent insurance (Art. 6)" in result.documents


def test_shipment_procedure_date_none_means_new_regime():
    undated = ask("BE", "NL", list_class=GREEN, hazardous=True)
    dated = ask("BE", "NL", list_class=GREEN, hazardous=True, date=AFTER)

    assert undated == dated


def test_shipment_procedure_export_for_disposal_to_gb_cites_art_37():
    result = ask("NL", "GB", operation="D10")

    assert result.legal_basis[0] == (
        "Regulation (EU) 2024/1157, Art. 37(1) (exports for disposal prohibited)"
    )
    assert result.documents == ()


def test_shipment_procedure_interim_document():
    result = ask("BE", "NL", operation="R13", list_class=AMBER)

    assert result.documents[-1] == (
        "interim operation: information on the subsequent final recovery/disposal facility"
    )
    assert "Regulation (EU) 2024/1157, Art. 15 (interim recovery and interim disposal)" in (
        result.legal_basis
    )


def test_shipment_procedure_status_disagreement_cites_art_28():
    result = ask("NL", "DE", W.BY_PRODUCT, evidence=Evidence.NATIONAL_ORIGIN, list_class=GREEN)

    assert (
        "Regulation (EU) 2024/1157, Art. 28 (disagreement on classification: treated as waste)"
        in result.legal_basis
    )


def test_shipment_procedure_eu_end_of_waste_needs_statement_of_conformity():
    result = ask("BE", "NL", W.END_OF_WASTE, evidence=Evidence.EU_REGULATION)

    assert result.procedure is P.NONE
    assert any("statement of conformity" in doc for doc in result.documents)


def test_shipment_procedure_gb_ch_cites_oecd_decision_and_both_sides():
    result = ask("GB", "CH", list_class=AMBER)

    assert any(basis.startswith("OECD Decision C(2001)107") for basis in result.legal_basis)
    assert any("as retained in UK law" in basis for basis in result.legal_basis)
    assert any("SR 814.610" in basis for basis in result.legal_basis)
    assert all("DIWASS" not in doc for doc in result.documents)


def test_shipment_procedure_accepts_lenient_spellings():
    strict = ask("BE", "NL", operation="R4", low_code="100102", list_class=GREEN)
    lenient = ask(" be", "nl ", operation="r 4", low_code="10 01 02", list_class="green")

    assert strict == lenient


def test_shipment_procedure_as_dict_is_json_ready():
    data = ask("GB", "CH", list_class=AMBER, operation="R13").as_dict()

    assert set(data) == {"procedure", "flags", "legal_basis", "documents", "indicative"}
    assert data["procedure"] == "notification"
    assert data["indicative"] == INDICATIVE
    assert json.loads(json.dumps(data)) == data
    assert all(type(flag) is str for flag in data["flags"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"origin": "XX"}, "origin"),
        ({"origin": "UK"}, "origin"),
        ({"origin": ""}, "origin"),
        ({"destination": "ZZ"}, "destination"),
        ({"destination": None}, "destination"),
        ({"operation": "R14"}, "operation"),
        ({"operation": "R0"}, "operation"),
        ({"operation": "D16"}, "operation"),
        ({"operation": "X1"}, "operation"),
        ({"operation": ""}, "operation"),
        ({"low_code": "12345"}, "low_code"),
        ({"low_code": "1234567"}, "low_code"),
        ({"low_code": "2A0301"}, "low_code"),
        ({"low_code": "990101"}, "low_code"),
        ({"low_code": "000101"}, "low_code"),
        ({"basel_code": "Z9999"}, "basel_code"),
        ({"basel_code": "B30"}, "basel_code"),
        ({"waste_status": "rubbish"}, "waste_status"),
        ({"evidence": "hearsay"}, "evidence"),
        ({"list_class": "red"}, "list_class"),
        ({"date": "2026-06-01"}, "date"),
        ({"date": datetime.date(2006, 1, 1)}, "date"),
    ],
    ids=[
        "unknown-origin",
        "uk-is-not-iso",
        "empty-origin",
        "unknown-destination",
        "missing-destination",
        "R14",
        "R0",
        "D16",
        "X1",
        "empty-operation",
        "low-code-5-digits",
        "low-code-7-digits",
        "low-code-letter",
        "low-code-chapter-99",
        "low-code-chapter-00",
        "bad-basel-code",
        "short-basel-code",
        "bad-status",
        "bad-evidence",
        "bad-list-class",
        "date-as-string",
        "date-before-1013-2006",
    ],
)
def test_shipment_procedure_rejects_bad_input(fields, field):
    question = {
        "origin": "BE",
        "destination": "NL",
        "waste_status": W.WASTE,
        "operation": "R4",
    } | fields

    with pytest.raises(LegalInputError) as caught:
        shipment_procedure(ShipmentQuestion(**question))

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)


def test_shipment_procedure_bad_input_is_checked_even_when_domestic():
    with pytest.raises(LegalInputError) as caught:
        ask("NL", "NL", operation="R99")

    assert caught.value.field == "operation"


def test_legal_score_covers_every_procedure_in_order():
    assert set(PROCEDURE_SCORE) == set(Procedure)
    scores = [legal_score(p) for p in Procedure]
    assert scores == sorted(scores, reverse=True)
    assert legal_score(P.NONE) == 1.0
    assert legal_score(P.PROHIBITED) == 0.0
    assert legal_score("notification") == PROCEDURE_SCORE[P.NOTIFICATION]


def test_legal_module_is_pure():
    tree = ast.parse(Path(legal.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")

    allowed = {"__future__", "datetime", "re", "dataclasses", "enum", "harbors.countries"}
    assert imported <= allowed, imported - allowed


OPERATIONS = [f"R{n}" for n in range(1, 14)] + [f"D{n}" for n in range(1, 16)]
BASEL_CODES = ["B1010", "B3010", "B3020", "GC010", "GB040", "A1010", "A3180", "AC150", "Y46"]

questions = st.builds(
    ShipmentQuestion,
    origin=st.sampled_from(sorted(COUNTRIES)),
    destination=st.sampled_from(sorted(COUNTRIES)),
    waste_status=st.sampled_from(WasteStatus),
    operation=st.sampled_from(OPERATIONS),
    low_code=st.none() | st.from_regex(r"(0[1-9]|1[0-9]|20)[0-9]{4}\*?", fullmatch=True),
    hazardous=st.booleans(),
    mirror=st.booleans(),
    evidence=st.sampled_from(Evidence),
    list_class=st.none() | st.sampled_from(ListClass),
    basel_code=st.none() | st.sampled_from(BASEL_CODES),
    mixture=st.booleans(),
    contaminated=st.booleans(),
    pops=st.booleans(),
    date=st.none()
    | st.dates(min_value=datetime.date(2007, 7, 12), max_value=datetime.date(2040, 12, 31)),
)


@given(questions)
def test_shipment_procedure_any_valid_question_has_an_answer(question):
    result = shipment_procedure(question)

    assert result.procedure in set(Procedure)
    assert result.indicative == INDICATIVE
    assert result.legal_basis
    assert (result.procedure is P.PROHIBITED) == (legal_score(result.procedure) == 0.0)
    assert 0.0 <= legal_score(result.procedure) <= 1.0
    if result.procedure in (P.NOTIFICATION, P.NOTIFICATION_DISPOSAL):
        assert Flag.TRANSIT in result.flags
    if result.procedure in (P.PROHIBITED, P.NONE):
        assert Flag.TRANSIT not in result.flags
    if question.origin == question.destination:
        assert result.procedure is P.NONE
        assert Flag.DOMESTIC in result.flags
    assert len(set(result.flags)) == len(result.flags)
    assert set(result.as_dict()) == {
        "procedure",
        "flags",
        "legal_basis",
        "documents",
        "indicative",
    }
