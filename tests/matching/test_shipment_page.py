"""The portal's shipment question gives the same answer as the command."""

import pytest
from django.urls import reverse

from matching.shipments import shipment_question_answer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_page_requires_login(client) -> None:
    response = client.get(reverse("matching:shipment-procedure"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_page_answers_like_the_service(client) -> None:
    client.force_login(UserFactory())
    query = {
        "origin": "BE",
        "destination": "NL",
        "low_code": "10 01 02",
        "status": "waste",
        "evidence": "none",
        "operation": "R5",
        "list_class": "green",
    }
    response = client.get(reverse("matching:shipment-procedure"), query)
    assert response.status_code == 200
    expected = shipment_question_answer(
        origin="BE",
        destination="NL",
        low_code="10 01 02",
        status="waste",
        operation="R5",
        list_class="green",
    )
    assert expected.procedure == "general_information"
    assert f'data-procedure="{expected.procedure}"' in response.content.decode()
    for document in expected.documents:
        assert document in response.content.decode()
    assert "indicative" in response.content.decode()


@pytest.mark.parametrize(
    ("change", "field"), [({"operation": "R14"}, "operation"), ({"low_code": "99 99"}, "low_code")]
)
def test_bad_question_names_the_field(client, change: dict, field: str) -> None:
    client.force_login(UserFactory())
    query = {
        "origin": "BE",
        "destination": "NL",
        "status": "waste",
        "evidence": "none",
        "operation": "R5",
        **change,
    }
    response = client.get(reverse("matching:shipment-procedure"), query)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert "data-procedure" not in response.content.decode()
