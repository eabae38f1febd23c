"""`manage.py shipment_procedure` and the service behind it: the contract's JSON keys, the List
of Waste lookup, and exit status 2 with a one-line message for every bad argument."""

from __future__ import annotations

import json
import os
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from matching.shipments import ShipmentInputError, shipment_question_answer
from tests.subprocesses import manage_py

KEYS = {"procedure", "flags", "legal_basis", "documents", "indicative"}
BE_NL_R5 = ["--origin", "BE", "--destination", "NL", "--status", "waste", "--operation", "R5"]


def _json(*args: str) -> dict:
    out = StringIO()
    call_command("shipment_procedure", *args, "--json", stdout=out)
    answer = json.loads(out.getvalue())
    assert set(answer) == KEYS
    assert answer["indicative"] == "indicative; the competent authorities decide"
    return answer


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "symbiosis.settings_test"}
    env.setdefault("DJANGO_SECRET_KEY", "test-only-not-secret")
    return manage_py("shipment_procedure", *args, env=env)


@pytest.mark.django_db
def test_shipment_procedure_green_non_hazardous_be_to_nl_is_general_information() -> None:
    answer = _json(*BE_NL_R5, "--low-code", "10 01 02", "--list-class", "green")
    assert answer["procedure"] == "general_information"
    assert "hazardous_in_list_of_waste" not in answer["flags"]
    assert any("Art. 18" in basis for basis in answer["legal_basis"])
    assert any("Annex VII" in document for document in answer["documents"])


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["10 01 04*", "100104", "10-01-04"])
def test_shipment_procedure_hazardous_low_code_needs_notification(code: str) -> None:
    answer = _json(*BE_NL_R5, "--low-code", code, "--list-class", "green")
    assert answer["procedure"] == "notification"
    assert "hazardous_in_list_of_waste" in answer["flags"]
    assert any("Art. 4(2)(d)" in basis for basis in answer["legal_basis"])


@pytest.mark.django_db
def test_shipment_procedure_asterisk_is_decided_by_the_list_of_waste() -> None:
    """10 01 02 is not hazardous: a stray asterisk does not make it so."""
    answer = _json(*BE_NL_R5, "--low-code", "10 01 02*", "--list-class", "green")
    assert answer["procedure"] == "general_information"


@pytest.mark.django_db
def test_shipment_procedure_mirror_entry_is_flagged() -> None:
    answer = _json(*BE_NL_R5, "--low-code", "17 05 04", "--list-class", "green")
    assert answer["procedure"] == "general_information"
    assert "mirror_entry_assessment_needed" in answer["flags"]


def test_shipment_procedure_disposal_from_nl_to_gb_is_prohibited() -> None:
    answer = _json(
        "--origin", "NL", "--destination", "GB", "--status", "waste", "--operation", "D1"
    )
    assert answer["procedure"] == "prohibited"
    assert "export_for_disposal_prohibited" in answer["flags"]


def test_shipment_procedure_domestic_needs_none() -> None:
    answer = _json(
        "--origin", "NL", "--destination", "NL", "--status", "waste", "--operation", "R5"
    )
    assert answer["procedure"] == "none"
    assert answer["flags"] == ["domestic"]


def test_shipment_procedure_without_json_prints_a_summary() -> None:
    out = StringIO()
    call_command("shipment_procedure", *BE_NL_R5, "--list-class", "green", stdout=out)
    text = out.getvalue()
    assert "Procedure: general_information" in text
    assert "Legal basis:" in text
    assert "competent authorities decide" in text


def test_shipment_procedure_help_lists_status_and_evidence_choices() -> None:
    result = _manage("--help")
    assert result.returncode == 0
    for choice in ("product", "by_product", "end_of_waste", "waste", "unknown"):
        assert choice in result.stdout
    for choice in ("eu_regulation", "national_origin", "national_both", "self_declared", "none"):
        assert choice in result.stdout
    assert "green,amber,unlisted" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--origin", "XX"], "--origin: unknown country code 'XX'"),
        (["--destination", "UK"], "use 'GB' for the United Kingdom"),
        (["--low-code", "10 01"], "--low-code: not a List of Waste code: '10 01'"),
        (["--low-code", "99 99 99"], "--low-code: '999999' is not a List of Waste code"),
        (["--operation", "R14"], "--operation: 'R14' is not a recovery (R1-R13)"),
        (["--operation", "D16"], "--operation: 'D16' is not a recovery"),
        (["--operation", "X1"], "--operation: 'X1' is not a recovery"),
        (["--date", "2026-13-01"], "argument --date: '2026-13-01' is not a date"),
        (["--date", "21/05/2026"], "argument --date: '21/05/2026' is not a date"),
        (["--date", "2001-01-01"], "--date: 2001-01-01 predates Regulation (EC) No 1013/2006"),
        (["--status", "scrap"], "argument --status: invalid choice: 'scrap'"),
        (["--evidence", "permit"], "argument --evidence: invalid choice: 'permit'"),
        (["--basel-code", "Q1"], "--basel-code: 'Q1' is not a Basel or OECD waste code"),
    ],
)
def test_shipment_procedure_bad_argument_exits_2_with_one_clear_line(
    args: list[str], message: str
) -> None:
    """These fail before any database read, so a subprocess on the bare database sees them."""
    base = dict(zip(BE_NL_R5[::2], BE_NL_R5[1::2], strict=True))
    base.update(zip(args[::2], args[1::2], strict=True))
    result = _manage(*(part for pair in base.items() for part in pair), "--json")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    # argparse prints its usage first; the error itself is always the one last line
    assert message in result.stderr.strip().splitlines()[-1]


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["10 01 98", "170599"])
def test_shipment_procedure_code_not_in_the_list_of_waste_exits_2(code: str) -> None:
    with pytest.raises(CommandError, match="is not an entry of the List of Waste") as caught:
        call_command("shipment_procedure", *BE_NL_R5, "--low-code", code, "--json")
    assert caught.value.returncode == 2
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("--low-code: ")


@pytest.mark.django_db
def test_shipment_question_answer_raises_application_error_with_the_field() -> None:
    with pytest.raises(ShipmentInputError) as caught:
        shipment_question_answer(origin="BE", destination="NL", status="waste", operation="R14")
    assert caught.value.code == "shipment_input_invalid"
    assert caught.value.http_status == 400
    assert caught.value.extra == {"field": "operation"}
    with pytest.raises(ShipmentInputError) as caught:
        shipment_question_answer(origin="BE", destination="NL", status="scrap", operation="R5")
    assert caught.value.extra == {"field": "status"}


def test_shipment_question_answer_checks_before_reading_the_database() -> None:
    """A malformed question costs no query, even when it names a List of Waste code (no
    django_db mark: pytest-django fails the test on any database access)."""
    with pytest.raises(ShipmentInputError) as caught:
        shipment_question_answer(
            origin="XX", destination="NL", status="waste", operation="R5", low_code="100102"
        )
    assert caught.value.field == "origin"


@pytest.mark.django_db
def test_shipment_question_answer_looks_the_code_up_once(django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        answer = shipment_question_answer(
            origin="BE", destination="NL", status="waste", operation="R5", low_code="100104"
        )
    assert answer.procedure == "notification"
