"""Schemathesis fuzzes every operation of the served OpenAPI schema through the WSGI app, as an
organisation (its token) or, on the facilitators' operations, as a facilitator.

Half the generated ids are swapped for the caller's real ones, so the fuzzer reaches the
services, not only the 404s. Checks: no server error, and every response conforms to the
schema (status code, content type and body). Bounded: 15 examples per operation, no deadline.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from symbiosis.wsgi import application
from tests.api.conftest import World

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


FUZZ_RATES = dict.fromkeys(("read", "write", "facilitate", "anon"), "1000000/min")

# Loaded at collection from the app itself (no database needed to build the schema).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def unthrottled(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": FUZZ_RATES}


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request; inside a test that
    would end the test's transaction. Django's test client unhooks the same signals."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _real_ids(world: World, path: str) -> dict[str, Any]:
    if "/queue/" in path or "/matches/" in path:
        return {"id": world.match_ab.pk}
    if "/demands/" in path:
        return {"id": world.a.demand.pk}
    if "/sites/" in path:
        return {"id": world.a.site.pk}
    if "/offers/" in path:
        return {"id": world.a.offer.pk}
    if "/public/" in path:
        return {"public_id": world.b.offer.public_id}
    if "/waste-codes/" in path:
        return {"code": "100102"}
    if "/regions/" in path:
        return {"code": "rotterdam-moerdijk"}
    return {}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(
    case: Any, world: World, unthrottled: None, in_test_transaction: None
) -> None:
    path = case.operation.path
    token = world.facilitator_token if "/queue/" in path else world.a.token
    if case.path_parameters and zlib.crc32(repr(case.path_parameters).encode()) % 2 == 0:
        case.path_parameters.update(_real_ids(world, path))
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
