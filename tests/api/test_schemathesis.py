"""Schemathesis against the OpenAPI schema, in process through Django's WSGI app (no live server).

Every operation of the schema is called with generated data as an admin with a token, over a small book:
no answer may be a 5xx, and every answer — errors included — must be documented (status code, content type)
and match its schema. The calls run inside the test's transaction, like any other test.

Checks are chosen explicitly rather than all of them:
- ``positive_data_acceptance`` is left out: the API has rules the schema cannot express (an order needs an
  amount and a product, a visit carries none; tier bands must stay cumulative and end at 100 %; ids must name
  existing rows the caller may change), so schema-valid data is often, rightly, a 400.
- ``negative_data_rejection`` is left out because the generator only runs in positive mode here (negative mode
  doubles the run time); bad-input handling is covered by the API tests' explicit 400 cases.
- ``use_after_free`` / ``ensure_resource_availability`` need stateful link definitions the schema does not have.
``ignored_auth`` stays in: every operation must refuse a request without credentials.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          ignored_auth]
MAX_EXAMPLES = 6  # per operation: ~60 operations × 6 ≈ 400 calls, well under a minute on two cores


@pytest.fixture
def admin_token(book, ada) -> str:  # type: ignore[no-untyped-def]
    return Token.objects.create(user=ada).key


def _load_schema():  # type: ignore[no-untyped-def]
    """The document /api/schema/ serves (same generator), with calls going in process to the WSGI app.

    Built at import rather than from a fixture: schemathesis's lazy ``from_fixture`` loader does not work with
    pytest 9 (it sets the node's removed ``_nodeid``). Generating the schema touches no database.
    """
    from django.core.wsgi import get_wsgi_application
    from drf_spectacular.generators import SchemaGenerator

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture
def in_test_transaction():  # type: ignore[no-untyped-def]
    """Keep the WSGI calls inside the test's transaction: like Django's test client, stop the end of each
    request from closing the database connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
# Only Hypothesis's generate phase: schemathesis's "coverage" phase (explicit boundary cases, ~15 s per operation
# here) would take the run to minutes, and shrinking a failure is not worth its time in CI (the failing example
# is printed with a curl command as it is).
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_it_conforms_to_its_schema(case, admin_token, in_test_transaction):  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)
