"""Shared test personas and helpers.

Personas (all at ``site`` unless said): technician, trainee, pharmacist, pic (pharmacist-in-
charge), inventory (inventory specialist), auditor, admin, and ``outsider`` — a technician
of another pharmacy, for cross-site checks."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    if on_postgres:
        _only_database_tests(config, items)
        _matrix_roles_on_postgres(config, items)


# What the PostgreSQL run adds is the database: a test that asks for no database (parsers,
# rules, the CLI and import tests whose subprocesses build their own SQLite files) runs the
# same on both, so the SQLite run is enough for it. Tests marked `postgres` always stay.
_DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def _uses_the_database(item: pytest.Item) -> bool:
    return (
        item.get_closest_marker("django_db") is not None
        or item.get_closest_marker("postgres") is not None
        or bool(_DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))
    )


def _only_database_tests(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RXDESK_PG_EVERY_TEST", "") not in ("", "0"):
        return
    kept = [item for item in items if _uses_the_database(item)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if not _uses_the_database(i)])
        items[:] = kept


# The permission matrices decide who may do what, which does not depend on the database;
# the SQLite suite runs every role. On PostgreSQL every route still runs, as the widest
# role (the pharmacist-in-charge, who reaches nearly every view) and as the auditor (who
# reaches the few the PIC may not), so each view's queries run on PostgreSQL too, at a
# quarter of the cost. RXDESK_PG_FULL_MATRIX=1 runs every role there as well.
_MATRIX_TESTS = ("test_api_permission", "test_ui_permission")
_MATRIX_ROLES_ON_POSTGRES = {Role.PHARMACIST_IN_CHARGE, Role.AUDITOR}


def _matrix_roles_on_postgres(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RXDESK_PG_FULL_MATRIX", "") not in ("", "0"):
        return
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            getattr(item, "originalname", "") in _MATRIX_TESTS
            and callspec is not None
            and callspec.params.get("role") not in _MATRIX_ROLES_ON_POSTGRES
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


# --- Test databases: built from the models, not by replaying every migration -----------------
#
# Replaying the migrations costs minutes of CPU (Django re-renders the whole model state at
# each step), paid by every xdist worker in each suite. The tables come out the same when
# created straight from the models; what the models do not know — the RunSQL / RunPython
# operations (search index, append-only triggers) — is then run in migration order, and every
# migration is recorded as applied, as `migrate` would. tests/test_migrations.py proves the
# two schemas equal; tests/test_cli.py keeps a real `migrate` from scratch.
# RXDESK_TEST_MIGRATE=1 builds the test database by the real migrations instead.


def migration_plan() -> list[tuple[str, str]]:
    """Every migration (app label, name), in the order `migrate` applies them."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    plan: dict[tuple[str, str], None] = {}
    for leaf in sorted(graph.leaf_nodes()):
        plan.update(dict.fromkeys(graph.forwards_plan(leaf)))
    return list(plan)


def _extra_operations(plan: list[tuple[str, str]]) -> list[tuple[tuple[str, str], Any]]:
    """The RunSQL / RunPython operations of ``plan``, in order, with their migration."""
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import RunPython, RunSQL, SeparateDatabaseAndState

    def database_side(operations: list[Any]) -> Iterator[Any]:
        for op in operations:
            if isinstance(op, SeparateDatabaseAndState):
                yield from database_side(op.database_operations)
            elif isinstance(op, RunSQL | RunPython):
                yield op

    nodes = MigrationLoader(None, ignore_no_migrations=True).graph.nodes
    return [(key, op) for key in plan for op in database_side(nodes[key].operations)]


@contextlib.contextmanager
def models_not_migrations() -> Iterator[None]:
    """Within: ``migrate`` creates the tables from the models, runs the migrations' RunSQL /
    RunPython operations in order, and records every migration as applied. Tables that exist
    are kept, and migrations already recorded are not run again (``--reuse-db``)."""
    from django.apps import apps as global_apps
    from django.conf import settings
    from django.core.management.commands import migrate
    from django.db import router
    from django.db.migrations.operations import RunSQL
    from django.db.migrations.recorder import MigrationRecorder

    plan = migration_plan()  # before the migration modules are hidden below
    extras = _extra_operations(plan)

    class FromModels(migrate.Command):
        def sync_apps(self, connection: Any, app_labels: Any) -> None:
            super().sync_apps(connection, app_labels)
            recorder = MigrationRecorder(connection)
            recorder.ensure_schema()
            applied = set(recorder.applied_migrations())
            with connection.schema_editor() as editor:
                for (app_label, name), op in extras:
                    if (app_label, name) in applied:
                        continue
                    if not router.allow_migrate(connection.alias, app_label, **op.hints):
                        continue
                    if isinstance(op, RunSQL):
                        op._run_sql(editor, op.sql)
                    else:  # the global registry: rendering each step's state is the cost
                        op.code(global_apps, editor)
            recorder.migration_qs.bulk_create(
                recorder.Migration(app=app, name=name)
                for app, name in plan
                if (app, name) not in applied
            )

    class Unmigrated:  # every app looks migration-less: `migrate --run-syncdb` makes its tables
        def __contains__(self, item: str) -> bool:
            return True

        def __getitem__(self, item: str) -> None:
            return None

    saved_modules, saved_command = settings.MIGRATION_MODULES, migrate.Command
    settings.MIGRATION_MODULES = Unmigrated()
    migrate.Command = FromModels  # type: ignore[misc]
    try:
        yield
    finally:
        settings.MIGRATION_MODULES = saved_modules
        migrate.Command = saved_command  # type: ignore[misc]


def build_from_models(using: str = "default") -> None:
    """Bring database ``using`` to the current schema the fast way (see above)."""
    from django.core.management import call_command

    with models_not_migrations():
        call_command("migrate", database=using, run_syncdb=True, verbosity=0, interactive=False)


_ROOT = Path(__file__).resolve().parent.parent
_BUILD = (
    "import django; django.setup(); "
    "from tests.conftest import build_from_models; build_from_models()"
)


def build_schema_in_subprocess(env: dict[str, str], timeout: int = 300) -> None:
    """Give the database of ``env`` (an ``rxdesk`` process's environment) the current schema
    the fast way, in a process of its own: for tests that start ``rxdesk`` processes on a
    fresh SQLite file and are not about migrating (tests/test_cli.py and
    tests/test_migrations.py keep real migrations)."""
    done = subprocess.run(
        [sys.executable, "-c", _BUILD],
        env=env,
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's, with the test databases built from the models (above) unless
    RXDESK_TEST_MIGRATE=1 asks for the real migrations."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _get_databases_for_setup

    keepdb = django_db_keepdb and not django_db_createdb
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    fast = os.environ.get("RXDESK_TEST_MIGRATE", "") in ("", "0")
    with django_db_blocker.unblock(), models_not_migrations() if fast else contextlib.nullcontext():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases=aliases,
            serialized_aliases=serialized_aliases,
            keepdb=keepdb,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            try:
                teardown_databases(db_cfg, verbosity=request.config.option.verbose)
            except Exception as exc:
                # As pytest-django does: a session still open at the end (a live server's
                # thread on PostgreSQL) must not turn a passing run into an error.
                request.node.warn(
                    pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}")
                )
