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


@pytest.fixture
def reference_data(db) -> None:
    """Depend on this to say a test needs the reference tables (loaded once per session)."""


@pytest.fixture
def shared_reference():
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is absent")
    return REFERENCE
