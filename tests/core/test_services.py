"""Core write services: the site record, staff, passwords and API tokens.

Each service: its exact audit event, a broken rule that writes nothing, a forbidden role that
writes nothing. The CLI doors (`rxdesk user create`, `rxdesk token create`) come last."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command
from django.db import models

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, CredentialExpired, Forbidden, Invalid, NotFound
from rxdesk.core.models import ApiToken, AuditEvent, Site, User
from rxdesk.core.services import (
    audit_chain_verify,
    site_create,
    site_update,
    staff_create,
    staff_set_password,
    staff_update,
    token_authenticate,
    token_create,
    token_revoke,
)
from tests.factories import PASSWORD, UserFactory

SITE_DEFAULTS = {
    "address_line1": "",
    "address_line2": "",
    "city": "",
    "state": "",
    "postal_code": "",
    "phone": "",
    "ncpdp_id": "",
    "npi": "",
    "dea_number": "",
    "time_zone": "America/New_York",
    "setting": "retail",
    "session_idle_minutes": 15,
    "mfa_required": False,
    "records_retention_years": None,
}


@contextlib.contextmanager
def nothing_written(*tables: type[models.Model]) -> Iterator[None]:
    """Assert that the block leaves the audit log and these tables exactly as they were."""
    counted = (AuditEvent, *tables)
    before = {t.__name__: t.objects.count() for t in counted}
    yield
    assert {t.__name__: t.objects.count() for t in counted} == before


def last_event() -> AuditEvent:
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    return event


def data_of(event: AuditEvent) -> dict:
    return json.loads(event.data)


@pytest.fixture
def other_pic(other_site) -> User:
    return UserFactory(site=other_site, role=Role.PHARMACIST_IN_CHARGE, username="other-pic")


# --- site_create ------------------------------------------------------------------------------


def test_site_create_records_the_whole_new_site(admin_user):
    site = site_create(
        actor=admin_user,
        name="Lakeview Pharmacy",
        npi="1234567893",
        phone="(217) 555-0142",
        state="il",
        dea_number="bj6125341",
    )

    event = last_event()
    assert (event.site_id, event.action, event.actor_name, event.actor_id) == (
        site.pk,
        "site.created",
        "admin",
        admin_user.pk,
    )
    assert (event.object_type, event.object_id, event.patient_id) == (
        "core.site",
        str(site.pk),
        None,
    )
    assert data_of(event) == {
        "after": {
            **SITE_DEFAULTS,
            "name": "Lakeview Pharmacy",
            "npi": "1234567893",
            "phone": "2175550142",
            "state": "IL",
            "dea_number": "BJ6125341",
        }
    }
    assert (event.seq, event.request_id, event.client_addr) == (1, "test-request", "127.0.0.1")


def test_site_create_from_the_cli_is_recorded_as_the_system(db, cli_context):
    site = site_create(actor=None, name="Set-up Pharmacy")
    event = last_event()
    assert (event.site_id, event.actor_name, event.actor_kind, event.actor_id) == (
        site.pk,
        "system",
        "system",
        None,
    )
    assert (event.request_id, event.client_addr) == ("cli-request", "cli:test")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"npi": "1234567890"},
            "npi",
            "This NPI's check digit is wrong; check for a mistyped digit.",
        ),
        (
            {"dea_number": "MS3418826"},
            "dea_number",
            "This DEA number's check digit is wrong; check for a mistyped digit.",
        ),
        ({"state": "XX"}, "state", "Use the two-letter postal code of a US state."),
        ({"ncpdp_id": "12345"}, "ncpdp_id", "An NCPDP provider ID is exactly 7 digits."),
        (
            {"time_zone": "Mars/Olympus"},
            "time_zone",
            "Not a known time zone; use a name like America/Chicago.",
        ),
        ({"colour": "blue"}, "colour", "This field cannot be set here."),
    ],
)
def test_site_create_refuses_bad_values_and_writes_nothing(admin_user, values, field, message):
    with nothing_written(Site), pytest.raises(Invalid) as raised:
        site_create(actor=admin_user, name="Lakeview Pharmacy", **values)
    assert raised.value.errors == [{"field": field, "message": message}]


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.PHARMACIST, Role.AUDITOR])
def test_site_create_is_forbidden_to_roles_without_site_edit(personas, role):
    with nothing_written(Site), pytest.raises(Forbidden, match=r"\(site\.edit\)"):
        site_create(actor=personas[role], name="Lakeview Pharmacy")


def test_site_create_without_an_actor_is_refused_outside_the_cli(db):
    with nothing_written(Site), pytest.raises(Forbidden, match="Sign in first"):
        site_create(actor=None, name="Lakeview Pharmacy")


# --- site_update ------------------------------------------------------------------------------


def test_site_update_records_only_the_changed_fields(site, pic):
    site_update(actor=pic, site=site, city="Springfield", session_idle_minutes=30, state="IL")

    site.refresh_from_db()
    assert (site.city, site.session_idle_minutes) == ("Springfield", 30)
    event = last_event()
    assert (event.site_id, event.action, event.actor_name, event.object_id) == (
        site.pk,
        "site.updated",
        "pic",
        str(site.pk),
    )
    assert data_of(event) == {
        "changes": {"city": ["", "Springfield"], "session_idle_minutes": [15, 30]}
    }


def test_site_update_without_a_change_records_nothing(site, pic):
    with nothing_written():
        site_update(actor=pic, site=site, state="IL", name=site.name)


def test_site_update_refuses_an_invalid_dea_number_and_writes_nothing(site, pic):
    with nothing_written(), pytest.raises(Invalid) as raised:
        site_update(actor=pic, site=site, city="Springfield", dea_number="MS3418826")
    assert [e["field"] for e in raised.value.errors] == ["dea_number"]
    site.refresh_from_db()
    assert (site.city, site.dea_number) == ("", "")


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN, Role.PHARMACIST, Role.AUDITOR, Role.INVENTORY_SPECIALIST]
)
def test_site_update_is_forbidden_to_roles_without_site_edit(site, personas, role):
    with nothing_written(), pytest.raises(Forbidden):
        site_update(actor=personas[role], site=site, city="Springfield")
    site.refresh_from_db()
    assert site.city == ""


def test_site_update_of_another_pharmacy_is_forbidden(site, other_pic):
    with nothing_written(), pytest.raises(Forbidden, match="your own pharmacy"):
        site_update(actor=other_pic, site=site, city="Springfield")
    site.refresh_from_db()
    assert site.city == ""


# --- staff_create -----------------------------------------------------------------------------


def test_staff_create_records_the_account_without_its_password(site, pic):
    user = staff_create(
        actor=pic,
        site=site,
        username="carla",
        role=Role.TECHNICIAN,
        password="a long pharmacy passphrase",
        first_name="Carla",
        last_name="Reyes",
        technician_registration="TR-555",
        technician_registration_expires=dt.date(2030, 1, 31),
        certification="ptcb",
        certification_number="PT-1",
        certification_expires=dt.date(2029, 6, 30),
    )

    assert user.check_password("a long pharmacy passphrase")
    event = last_event()
    assert (event.site_id, event.action, event.actor_name, event.object_type, event.object_id) == (
        site.pk,
        "staff.created",
        "pic",
        "core.user",
        str(user.pk),
    )
    assert data_of(event) == {
        "after": {
            "username": "carla",
            "first_name": "Carla",
            "last_name": "Reyes",
            "email": "",
            "role": "technician",
            "is_active": True,
            "technician_registration": "TR-555",
            "technician_registration_expires": "2030-01-31",
            "certification": "ptcb",
            "certification_number": "PT-1",
            "certification_expires": "2029-06-30",
            "pharmacist_license": "",
            "pharmacist_license_expires": None,
        }
    }
    assert "passphrase" not in event.data


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"username": "carla", "password": "short7"}, "password"),
        ({"username": "carla", "password": "password123"}, "password"),
        ({"username": "TECH", "password": "a long pharmacy passphrase"}, "username"),
        ({"username": "carla", "password": None, "role": "wizard"}, "role"),
        (
            {
                "username": "carla",
                "password": None,
                "technician_registration_expires": dt.date(2030, 1, 1),
            },
            "technician_registration",
        ),
        ({"username": "carla", "password": None, "certification": "cpht-x"}, "certification"),
        ({"username": "carla", "password": None, "email": "not-an-email"}, "email"),
    ],
)
def test_staff_create_refuses_a_broken_rule_and_writes_nothing(
    site, pic, technician, values, field
):
    values = {"role": Role.TECHNICIAN, **values}
    with nothing_written(User), pytest.raises(Invalid) as raised:
        staff_create(actor=pic, site=site, **values)
    assert field in [e["field"] for e in raised.value.errors]


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.PHARMACIST, Role.AUDITOR])
def test_staff_create_is_forbidden_to_roles_without_staff_edit(site, personas, role):
    with nothing_written(User), pytest.raises(Forbidden):
        staff_create(
            actor=personas[role], site=site, username="carla", role="technician", password=None
        )


def test_only_an_admin_creates_an_admin(site, pic, admin_user):
    with nothing_written(User), pytest.raises(Forbidden, match="Only an administrator"):
        staff_create(actor=pic, site=site, username="root2", role=Role.ADMIN, password=None)
    created = staff_create(
        actor=admin_user, site=site, username="root2", role=Role.ADMIN, password=None
    )
    assert created.role == Role.ADMIN
    assert not created.has_usable_password()


def test_staff_create_at_another_pharmacy_is_forbidden(site, other_pic):
    with nothing_written(User), pytest.raises(Forbidden, match="your own pharmacy"):
        staff_create(actor=other_pic, site=site, username="carla", role="technician", password=None)


def test_a_pic_whose_license_expired_cannot_manage_staff(site, pic):
    pic.pharmacist_license_expires = dt.date(2020, 1, 31)
    pic.save()
    with nothing_written(User), pytest.raises(CredentialExpired) as raised:
        staff_create(actor=pic, site=site, username="carla", role="technician", password=None)
    assert raised.value.message == (
        "Your pharmacist license expired on 01/31/2020; you cannot do this until it is renewed "
        "and recorded."
    )


# --- staff_update -----------------------------------------------------------------------------


def test_staff_update_records_the_changed_fields(pic, technician):
    old = technician.technician_registration_expires
    staff_update(
        actor=pic,
        user=technician,
        technician_registration_expires=dt.date(2031, 3, 1),
        first_name="Test",
    )

    technician.refresh_from_db()
    assert technician.technician_registration_expires == dt.date(2031, 3, 1)
    event = last_event()
    assert (event.action, event.actor_name, event.object_id) == (
        "staff.updated",
        "pic",
        str(technician.pk),
    )
    assert data_of(event) == {
        "changes": {"technician_registration_expires": [old.isoformat(), "2031-03-01"]}
    }


@pytest.mark.parametrize(
    ("values", "error", "field"),
    [
        ({"role": "wizard"}, Invalid, "role"),
        ({"pharmacist_license_expires": dt.date(2030, 1, 1)}, Invalid, "pharmacist_license"),
        ({"username": "someone-else"}, Invalid, "username"),
    ],
)
def test_staff_update_refuses_a_broken_rule_and_writes_nothing(
    pic, technician, values, error, field
):
    with nothing_written(), pytest.raises(error) as raised:
        staff_update(actor=pic, user=technician, **values)
    assert [e["field"] for e in raised.value.errors] == [field]
    fresh = User.objects.get(pk=technician.pk)
    assert (fresh.role, fresh.username, fresh.pharmacist_license_expires) == (
        "technician",
        "tech",
        None,
    )


def test_staff_update_refuses_to_let_you_deactivate_yourself(pic):
    with nothing_written(), pytest.raises(Conflict, match="deactivate yourself"):
        staff_update(actor=pic, user=pic, is_active=False)
    assert User.objects.get(pk=pic.pk).is_active is True


def test_staff_update_of_another_pharmacys_staff_is_not_found(other_pic, technician):
    with nothing_written(), pytest.raises(NotFound):
        staff_update(actor=other_pic, user=technician, is_active=False)
    assert User.objects.get(pk=technician.pk).is_active is True


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN, Role.PHARMACIST, Role.AUDITOR, Role.INVENTORY_SPECIALIST]
)
def test_staff_update_is_forbidden_to_roles_without_staff_edit(personas, technician, role):
    with nothing_written(), pytest.raises(Forbidden):
        staff_update(actor=personas[role], user=technician, is_active=False)
    assert User.objects.get(pk=technician.pk).is_active is True


def test_a_pic_cannot_make_someone_an_admin(pic, technician):
    with nothing_written(), pytest.raises(Forbidden, match="administrator"):
        staff_update(actor=pic, user=technician, role=Role.ADMIN)
    assert User.objects.get(pk=technician.pk).role == Role.TECHNICIAN


# --- staff_set_password -----------------------------------------------------------------------


def test_staff_set_password_by_a_manager_is_recorded_without_the_password(pic, technician):
    staff_set_password(actor=pic, user=technician, password="new counter passphrase")

    assert User.objects.get(pk=technician.pk).check_password("new counter passphrase")
    event = last_event()
    assert (event.action, event.actor_name, event.object_type, event.object_id) == (
        "staff.password_set",
        "pic",
        "core.user",
        str(technician.pk),
    )
    assert data_of(event) == {}


def test_anyone_may_set_their_own_password(technician):
    staff_set_password(actor=technician, user=technician, password="my own long passphrase")
    assert User.objects.get(pk=technician.pk).check_password("my own long passphrase")
    assert (last_event().action, last_event().actor_name) == ("staff.password_set", "tech")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short7", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("83920174653", "This password is entirely numeric."),
    ],
)
def test_staff_set_password_refuses_a_weak_password_and_keeps_the_old_one(
    pic, technician, password, message
):
    with nothing_written(), pytest.raises(Invalid) as raised:
        staff_set_password(actor=pic, user=technician, password=password)
    assert {"field": "password", "message": message} in raised.value.errors
    assert User.objects.get(pk=technician.pk).check_password(PASSWORD)


def test_a_technician_cannot_set_someone_elses_password(technician, pharmacist):
    with nothing_written(), pytest.raises(Forbidden):
        staff_set_password(actor=technician, user=pharmacist, password="taken over account")
    assert User.objects.get(pk=pharmacist.pk).check_password(PASSWORD)


def test_a_pic_cannot_set_the_password_of_another_pharmacys_staff(other_pic, technician):
    with nothing_written(), pytest.raises(NotFound):
        staff_set_password(actor=other_pic, user=technician, password="taken over account")
    assert User.objects.get(pk=technician.pk).check_password(PASSWORD)


# --- token_create / token_revoke --------------------------------------------------------------


def test_token_create_stores_only_a_digest_and_records_the_prefix(pharmacist):
    token, secret = token_create(actor=pharmacist, user=pharmacist, name="lab interface")

    assert secret.startswith("rxd_") and len(secret) > 40
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert token_authenticate(secret) == token
    event = last_event()
    assert (event.action, event.actor_name, event.object_type, event.object_id) == (
        "token.created",
        "rph",
        "core.apitoken",
        str(token.pk),
    )
    assert data_of(event) == {"user": "rph", "name": "lab interface", "prefix": secret[:12]}
    assert secret not in event.data


def test_token_create_for_an_inactive_account_is_refused(pharmacist, cli_context):
    User.objects.filter(pk=pharmacist.pk).update(is_active=False)
    pharmacist.refresh_from_db()
    with nothing_written(ApiToken), pytest.raises(Conflict) as raised:
        token_create(actor=None, user=pharmacist)
    assert raised.value.errors == [{"field": "username", "message": "That account is inactive."}]


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR])
def test_token_create_is_forbidden_to_roles_without_token_create(personas, role):
    actor = personas[role]
    with nothing_written(ApiToken), pytest.raises(Forbidden):
        token_create(actor=actor, user=actor)


def test_nobody_creates_a_token_acting_as_someone_else(pic, pharmacist):
    with nothing_written(ApiToken), pytest.raises(Forbidden, match="for yourself"):
        token_create(actor=pic, user=pharmacist)


@pytest.fixture
def rph_token(pharmacist) -> tuple[ApiToken, str]:
    return token_create(actor=pharmacist, user=pharmacist, name="lab")


def test_token_revoke_records_it_once_and_the_token_stops_working(pic, rph_token):
    token, secret = rph_token
    token_revoke(actor=pic, token=token)

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token_authenticate(secret) is None
    event = last_event()
    assert (event.action, event.actor_name, event.object_id) == (
        "token.revoked",
        "pic",
        str(token.pk),
    )
    with nothing_written():
        token_revoke(actor=pic, token=token)  # already revoked: nothing more to record


def test_a_token_owner_may_revoke_their_own_token(pharmacist, rph_token):
    token_revoke(actor=pharmacist, token=rph_token[0])
    assert (last_event().action, last_event().actor_name) == ("token.revoked", "rph")


def test_a_technician_cannot_revoke_someone_elses_token(technician, rph_token):
    token, secret = rph_token
    with nothing_written(), pytest.raises(Forbidden):
        token_revoke(actor=technician, token=token)
    assert token_authenticate(secret) == token


def test_a_pic_cannot_revoke_another_pharmacys_token(other_pic, rph_token):
    token, secret = rph_token
    with nothing_written(), pytest.raises(NotFound):
        token_revoke(actor=other_pic, token=token)
    assert token_authenticate(secret) == token


def test_token_authenticate_refuses_garbage(db):
    assert token_authenticate("not-a-token") is None
    assert token_authenticate("rxd_" + "x" * 200) is None
    assert token_authenticate("rxd_unknown") is None


# --- the CLI doors ----------------------------------------------------------------------------


def test_rxdesk_user_create_writes_through_the_service_as_the_operator(site, monkeypatch):
    monkeypatch.setenv("RXDESK_PASSWORD", "a long pharmacy passphrase")
    out = io.StringIO()
    call_command(
        "user",
        "create",
        "--username",
        "dana",
        "--role",
        "pharmacist",
        "--last-name",
        "Ito",
        stdout=out,
        no_color=True,
    )

    user = User.objects.get(username="dana")
    assert (user.site_id, user.role, user.last_name) == (site.pk, "pharmacist", "Ito")
    assert user.check_password("a long pharmacy passphrase")
    assert out.getvalue().strip() == f"Created pharmacist 'dana' at {site.name}."
    event = last_event()
    assert (event.action, event.actor_name, event.actor_kind) == (
        "staff.created",
        "system",
        "system",
    )
    assert event.client_addr.startswith("cli:")


def test_rxdesk_user_create_names_the_bad_field_and_creates_nothing(site, monkeypatch):
    monkeypatch.setenv("RXDESK_PASSWORD", "short")
    with (
        nothing_written(User),
        pytest.raises(CommandError, match="password: This password is too short"),
    ):
        call_command("user", "create", "--username", "dana", "--role", "pharmacist")


def test_rxdesk_token_create_prints_a_working_secret_once(pharmacist):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "token", "create", "--username", "rph", "--name", "fax server", stdout=out, stderr=err
    )

    secret = out.getvalue().strip()
    token = token_authenticate(secret)
    assert token is not None and token.user == pharmacist and token.name == "fax server"
    assert "shown only once" in err.getvalue()
    assert (last_event().action, last_event().actor_name) == ("token.created", "system")


def test_rxdesk_token_create_for_an_unknown_user_fails(db):
    with nothing_written(ApiToken), pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("token", "create", "--username", "ghost")


# --- audit_chain_verify -----------------------------------------------------------------------


def test_audit_chain_verify_records_who_checked_and_how_the_chain_stood(site, auditor, pic):
    site_update(actor=pic, site=site, city="Springfield")
    head_before = AuditEvent.objects.get(site=site, seq=1).hash

    report = audit_chain_verify(actor=auditor)

    assert (report.intact, report.events, report.head_seq) == (True, 1, 1)
    event = last_event()
    assert (event.seq, event.action, event.actor_name, event.object_type, event.object_id) == (
        2,
        "audit.verified",
        "auditor",
        "core.site",
        str(site.pk),
    )
    assert data_of(event) == {
        "intact": True,
        "events": 1,
        "head_seq": 1,
        "head_hash": head_before,
        "broken": "",
    }


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.PHARMACIST, Role.INVENTORY_SPECIALIST])
def test_audit_chain_verify_is_forbidden_to_roles_without_audit_verify(personas, role):
    with nothing_written(), pytest.raises(Forbidden, match=r"\(audit\.verify\)"):
        audit_chain_verify(actor=personas[role])


@pytest.mark.parametrize("minutes", [0, 241])
def test_an_idle_limit_out_of_range_names_the_field(site, pic, minutes):
    with pytest.raises(Invalid) as caught:
        site_update(actor=pic, site=site, session_idle_minutes=minutes)
    assert [e["field"] for e in caught.value.errors] == ["session_idle_minutes"]
    site.refresh_from_db()
    assert site.session_idle_minutes == 15


def test_site_update_clears_a_text_field_given_none_and_names_a_required_one(site, pic):
    """A null text field (e.g. PATCH /api/v1/site {"address_line2": null}, which once reached
    the database as NULL and answered 500) clears it; a required one is refused by name."""
    site_update(actor=pic, site=site, address_line2="Suite 4")
    site_update(actor=pic, site=site, address_line2=None)
    site.refresh_from_db()
    assert site.address_line2 == ""

    with pytest.raises(Invalid) as refused:
        site_update(actor=pic, site=site, name=None)
    assert refused.value.errors[0]["field"] == "name"
    site.refresh_from_db()
    assert site.name
