"""Shared test personas and helpers.

Personas (all at ``site`` unless said): technician, trainee, pharmacist, pic (pharmacist-in-
charge), inventory (inventory specialist), auditor, admin, and ``outsider`` — a technician
of another pharmacy, for cross-site checks."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.db import connection

from rxdesk.core import context
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, Site, User
from tests.factories import SiteFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop + live_server

PASSWORD = "pharmacy-counter-42"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)


@pytest.fixture(autouse=True)
def _web_context():
    """Service calls in tests act as if from a signed-in web request (not the CLI)."""
    with context.using(
        context.RequestInfo(request_id="test-request", client_addr="127.0.0.1", channel="web")
    ):
        yield


@pytest.fixture
def cli_context():
    with context.using(
        context.RequestInfo(request_id="cli-request", client_addr="cli:test", channel="cli")
    ):
        yield


@pytest.fixture
def site(db) -> Site:
    return SiteFactory()


@pytest.fixture
def other_site(db) -> Site:
    return SiteFactory(name="Lakeside Pharmacy", ncpdp_id="1234567")


def _persona(site: Site, role: Role, username: str) -> User:
    return UserFactory(site=site, role=role, username=username)


@pytest.fixture
def technician(site) -> User:
    return _persona(site, Role.TECHNICIAN, "tech")


@pytest.fixture
def trainee(site) -> User:
    return _persona(site, Role.TECHNICIAN_IN_TRAINING, "trainee")


@pytest.fixture
def pharmacist(site) -> User:
    return _persona(site, Role.PHARMACIST, "rph")


@pytest.fixture
def pic(site) -> User:
    return _persona(site, Role.PHARMACIST_IN_CHARGE, "pic")


@pytest.fixture
def inventory(site) -> User:
    return _persona(site, Role.INVENTORY_SPECIALIST, "inventory")


@pytest.fixture
def auditor(site) -> User:
    return _persona(site, Role.AUDITOR, "auditor")


@pytest.fixture
def admin_user(site) -> User:
    return _persona(site, Role.ADMIN, "admin")


@pytest.fixture
def outsider(other_site) -> User:
    return _persona(other_site, Role.TECHNICIAN, "outsider")


@pytest.fixture
def personas(technician, trainee, pharmacist, pic, inventory, auditor, admin_user):
    return {
        Role.TECHNICIAN: technician,
        Role.TECHNICIAN_IN_TRAINING: trainee,
        Role.PHARMACIST: pharmacist,
        Role.PHARMACIST_IN_CHARGE: pic,
        Role.INVENTORY_SPECIALIST: inventory,
        Role.AUDITOR: auditor,
        Role.ADMIN: admin_user,
    }


def audit_count() -> int:
    return AuditEvent.objects.count()


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-id").first()  # type: ignore[return-value]


def earlier_today(site: Site, **delta: float) -> dt.datetime:
    """``delta`` ago, but never before midnight at the pharmacy: a fixture that means "a
    little while ago, today" stays today when the suite runs just after local midnight."""
    from django.utils import timezone

    midnight = dt.datetime.combine(site.today(), dt.time.min, tzinfo=site.tz)
    return max(timezone.now() - dt.timedelta(**delta), midnight)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


TODAY = dt.date.today()


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup, django_db_blocker):
    """Torn down before the test database is dropped: a live server's or a worker thread's
    PostgreSQL session would otherwise keep the test database 'in use by other users'."""
    yield
    if not on_postgres():
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
