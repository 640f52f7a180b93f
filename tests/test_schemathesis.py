"""Property-based API tests: schemathesis generates requests for every operation in the
OpenAPI schema the app serves and checks each response.

Every operation is called as the pharmacist-in-charge (the widest role) on a populated
pharmacy: a patient, a prescriber, a product with a package on the shelf, a prescription and
its first fill. Checks that fail the test: no server error (5xx), no status code the
operation does not declare (every operation declares its answers and, as `default`, the
problem+json error), and a response body that matches the schema declared for its status.

The calls go through Django's WSGI handler in-process, on the test's own database
connection: everything they write is rolled back with the test's transaction (pytest-django
``db``) — ``test_generated_writes_are_rolled_back`` proves it.

One pytest test walks all operations (the populated pharmacy is built once, not 556 times).
CI runs it with a small, derandomized budget so a failure repeats; the ``slow`` variant runs
more examples."""

from __future__ import annotations

import os
import sys
import time
import typing
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import BaseModel
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from rxdesk.api import api
from rxdesk.patients.models import Patient
from tests.conftest import on_postgres

SCHEMA_URL = "/api/v1/openapi.json"

# Django's own WSGI handler: rxdesk.wsgi also checks the database settings at import, which
# pytest-django forbids outside a test.
application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)

FAILING_CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
CI_EXAMPLES = 5  # per operation; the whole walk must stay within CI's few minutes
SLOW_EXAMPLES = 15
STATEFUL_SCENARIOS = 50
STATEFUL_STEPS = 10
CI_SCENARIOS = 10  # the stateful walk in every CI run, both databases (~100 calls)
CI_STEPS = 10
PROGRESS = os.environ.get("RXDESK_FUZZ_PROGRESS")  # set to print each operation's time


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def populated(pic, site) -> dict[str, Any]:
    """A pharmacy with one of everything the prescription workflow touches."""
    from tests.inventory.factories import stock
    from tests.rx.factories import first_fill, make_rx

    rx = make_rx(pic)
    stock(site, rx.package)
    return {"rx": rx, "fill": first_fill(rx), "patient": rx.patient}


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes "old" connections when a request starts and finishes; inside
    a test's transaction (autocommit off) that closes the test's own connection (PostgreSQL;
    an in-memory SQLite connection is never closed). Django's test client unhooks it the
    same way while it makes a request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(pic, populated) -> dict[str, str]:
    from tests.test_api import token_for

    return {"Authorization": f"Bearer {token_for(pic)}"}


def fuzz(operation: Any, headers: dict[str, str], examples: int) -> None:
    """Run ``examples`` generated calls of one operation; raise at the first wrong answer."""

    @given(case=operation.as_strategy())
    @budget(examples)
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=FAILING_CHECKS)

    check()


def walk(headers: dict[str, str], examples: int) -> None:
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        started = time.monotonic()
        try:
            fuzz(operation, headers, examples)
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation
            failures[operation.label] = str(exc)
        if PROGRESS:
            print(
                f"{time.monotonic() - started:6.2f}s {operation.label}"
                f"{'  FAIL' if operation.label in failures else ''}",
                file=sys.stderr,
                flush=True,
            )
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


def test_every_operation_answers_within_its_schema(bearer):
    walk(bearer, examples=CI_EXAMPLES)


def test_generated_calls_write_inside_the_tests_transaction(bearer):
    # Given the patients list as schemathesis calls it (WSGI, in-process)
    create = schema["/api/v1/patients"]["POST"]
    case = create.Case(
        body={"first_name": "Ada", "last_name": "Byron", "date_of_birth": "1980-01-02", "sex": "F"}
    )

    # When a generated-style call writes
    response = case.call(headers=bearer)

    # Then the row is visible on the test's own connection, inside its open transaction —
    # so pytest-django's rollback at the end of the test removes it.
    assert response.status_code == 201, response.text
    assert connection.in_atomic_block
    assert Patient.objects.filter(last_name="Byron").count() == 1


# The longer runs (slow: about 3 minutes together on a quiet machine) run in CI's SQLite run.
# They walk the same operations as the short walk, which runs on both databases, so the
# PostgreSQL run leaves them out unless RXDESK_FUZZ_LONG=1 (`make fuzz` runs them alone).
LONG = os.environ.get("RXDESK_FUZZ_LONG", "") not in ("", "0")
long_run = pytest.mark.skipif(
    on_postgres() and not LONG, reason="the longer walks run in the SQLite run (or make fuzz)"
)


@pytest.mark.slow
@long_run
def test_every_operation_with_a_bigger_budget(bearer):
    walk(bearer, examples=SLOW_EXAMPLES)


def linked_walk(bearer: dict[str, str], scenarios: int, steps: int) -> None:
    """Schemathesis's stateful walk: ninja emits no OpenAPI links, so schemathesis infers
    them from the schema (dependency analysis: POST /patients → GET /patients/{patient_id}
    and the like), and each scenario creates rows and then reads and changes them.

    Each scenario starts from the same pharmacy: what one wrote is rolled back (a savepoint)
    before the next. Otherwise a later scenario meets the rows of an earlier one (a 409 where
    the first got 201), and Hypothesis, replaying choices, finds the generation "flaky"."""

    class Walk(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self._before = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self._before)
            super().teardown()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            calls.append(f"{case.operation.method.upper()} {case.operation.path}")
            return {"headers": bearer}

        def validate_response(self, response: Any, case: schemathesis.Case, *a, **k) -> None:
            case.validate_response(response, checks=FAILING_CHECKS)

    calls: list[str] = []
    Walk.run(
        settings=settings(
            budget(scenarios),
            stateful_step_count=steps,
            phases=[Phase.generate],
        )
    )
    assert len(calls) >= scenarios, "the stateful walk made no calls"


def test_linked_calls_answer_within_their_schema(bearer):
    linked_walk(bearer, scenarios=CI_SCENARIOS, steps=CI_STEPS)


@pytest.mark.slow
@long_run
def test_linked_calls_on_a_longer_walk(bearer):
    linked_walk(bearer, scenarios=STATEFUL_SCENARIOS, steps=STATEFUL_STEPS)


def _models_in(annotation: Any, seen: set[type]) -> None:
    """Every pydantic model reachable from ``annotation`` (nested, in lists, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for field in annotation.model_fields.values():
            _models_in(field.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        _models_in(arg, seen)


def test_schema_names_are_unique():
    # django-ninja names each OpenAPI component after its class; two classes with one name
    # silently become one component, so the published schema describes one and the other
    # operation's answers break it (GET /inventory/moves was described by the cabinets'
    # MoveOut). Found by the walk above; this names every clash at once.
    seen: set[type] = set()
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    _models_in(model, seen)
                for model in operation.response_models.values():
                    _models_in(model, seen)
    by_name: dict[str, list[str]] = {}
    for model in seen:
        if not model.__module__.startswith("rxdesk."):
            continue  # ninja's own per-operation wrappers (PathParams, …) never reach the schema
        by_name.setdefault(model.__name__, []).append(f"{model.__module__}.{model.__qualname__}")
    clashes = {name: sorted(where) for name, where in by_name.items() if len(where) > 1}
    assert not clashes, "\n".join(
        f"{name}: {', '.join(where)}" for name, where in sorted(clashes.items())
    )
