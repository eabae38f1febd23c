"""Shared fixtures. Tests run on the real PostgreSQL (pytest-django creates test_symbiosis)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

REFERENCE = (
    __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "reference"
)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the reference data once per session; every test sees it (transactions roll back)."""
    with django_db_blocker.unblock():
        call_command("load_reference_data", verbosity=0)


@pytest.fixture(autouse=True)
def _reference_data_after_truncation(request: pytest.FixtureRequest) -> None:
    """Reload the reference data in a transactional test when an earlier one truncated it.

    A transactional test (`django_db(transaction=True)`, `transactional_db`, `live_server`) ends
    by truncating every table, reference tables included. pytest-django runs those tests after
    all the others, so only later transactional tests can miss the data: they reload it here,
    committed, for one cheap query when it is present.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = (
        marker is not None
        and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))
    ) or not {"transactional_db", "live_server"}.isdisjoint(request.fixturenames)
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    from listings.models import WasteCode

    if not WasteCode.objects.exists():
        call_command("load_reference_data", verbosity=0)


@pytest.fixture
def reference_data(db) -> None:
    """Depend on this to say a test needs the reference tables (loaded once per session)."""


@pytest.fixture
def shared_reference():
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is absent")
    return REFERENCE
