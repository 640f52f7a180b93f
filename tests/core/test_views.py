"""The site, staff and audit-log screens: who may open them, what a refused or bad request
leaves unchanged, the CSV export and its own audit event, and the chain verification."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from rxdesk.core.audit import audit_record
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.core.queries import CSV_COLUMNS
from tests.factories import UserFactory

EVERYONE = list(Role)
SITE_EDITORS = [Role.PHARMACIST_IN_CHARGE, Role.ADMIN]
STAFF_VIEWERS = [Role.PHARMACIST_IN_CHARGE, Role.AUDITOR, Role.ADMIN]
STAFF_EDITORS = [Role.PHARMACIST_IN_CHARGE, Role.ADMIN]
AUDIT_VIEWERS = [Role.PHARMACIST_IN_CHARGE, Role.AUDITOR]
AUDIT_VERIFIERS = [Role.PHARMACIST_IN_CHARGE, Role.AUDITOR, Role.ADMIN]


def others(roles: list[Role]) -> list[Role]:
    return [r for r in Role if r not in roles]


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """The test client speaks plain HTTP: no redirect to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False


def sign_in(client: Client, user: User) -> Client:
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def site_form(site: Site, **overrides: str) -> dict[str, str]:
    data = {
        "name": site.name,
        "setting": site.setting,
        "address_line1": "",
        "address_line2": "",
        "city": "",
        "state": site.state,
        "postal_code": "",
        "phone": "",
        "ncpdp_id": site.ncpdp_id,
        "npi": "",
        "dea_number": "",
        "time_zone": site.time_zone,
        "session_idle_minutes": str(site.session_idle_minutes),
    }
    data.update(overrides)
    return data


# --- Site -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERYONE)
def test_every_role_sees_the_site_record(client, personas, site, role):
    sign_in(client, personas[role])
    response = client.get(reverse("site_detail"))
    assert response.status_code == 200
    assert site.name in response.text and "7654321" in response.text
    assert (reverse("site_edit") in response.text) is (role in SITE_EDITORS)


@pytest.mark.parametrize("role", SITE_EDITORS)
def test_the_pic_and_the_admin_change_the_site_record(client, personas, site, role):
    sign_in(client, personas[role])
    assert client.get(reverse("site_edit")).status_code == 200
    response = client.post(
        reverse("site_edit"), site_form(site, phone="(217) 555-0142", session_idle_minutes="20")
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.phone, site.session_idle_minutes) == ("2175550142", 20)
    [updated] = events("site.updated")
    assert json.loads(updated.data) == {
        "changes": {"phone": ["", "2175550142"], "session_idle_minutes": [15, 20]}
    }


@pytest.mark.parametrize("role", others(SITE_EDITORS))
def test_other_roles_may_not_change_the_site_record(client, personas, site, role):
    sign_in(client, personas[role])
    before = AuditEvent.objects.count()
    assert client.get(reverse("site_edit")).status_code == 403
    response = client.post(reverse("site_edit"), site_form(site, name="Renamed"))
    assert response.status_code == 403
    site.refresh_from_db()
    assert site.name == "Riverside Test Pharmacy"
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("npi", "1234567890", "check digit is wrong"),
        ("time_zone", "Mars/Olympus", "Not a known time zone"),
        ("session_idle_minutes", "0", "greater than or equal to 1"),
        ("session_idle_minutes", "ten", "Enter a whole number."),
        ("ncpdp_id", "12", "exactly 7 digits"),
    ],
)
def test_a_bad_site_value_is_shown_beside_its_field_and_nothing_changes(
    client, pic, site, field, value, message
):
    sign_in(client, pic)
    before = AuditEvent.objects.count()
    response = client.post(reverse("site_edit"), site_form(site, **{field: value}))
    assert response.status_code == 422
    assert message in response.context["form"].errors[field][0]
    site.refresh_from_db()
    assert site.session_idle_minutes == 15 and site.npi == ""
    assert AuditEvent.objects.count() == before


# --- Staff ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF_VIEWERS)
def test_staff_viewers_see_roles_and_credentials(client, personas, role):
    sign_in(client, personas[role])
    response = client.get(reverse("staff_list"))
    assert response.status_code == 200
    assert "TR-100200" in response.text and "RPH-051.0099" in response.text
    assert "Technician in training" in response.text
    assert (reverse("staff_create") in response.text) is (role in STAFF_EDITORS)


@pytest.mark.parametrize("role", others(STAFF_VIEWERS))
def test_other_roles_may_not_see_the_staff_list(client, personas, role):
    sign_in(client, personas[role])
    response = client.get(reverse("staff_list"))
    assert response.status_code == 403
    assert "TR-100200" not in response.text


def test_the_staff_list_marks_an_expired_credential(client, pic, site):
    UserFactory(
        site=site,
        role=Role.TECHNICIAN,
        username="lapsed",
        technician_registration="TR-9",
        technician_registration_expires=dt.date(2020, 1, 31),
    )
    sign_in(client, pic)
    response = client.get(reverse("staff_list"))
    [row] = [r for r in response.context["rows"] if r["member"].username == "lapsed"]
    assert "expired on 01/31/2020" in row["problem"]
    assert response.text.count('class="badge danger">expired</span>') == 1
    assert "exp. 01/31/2020" in response.text


def test_the_staff_list_runs_a_fixed_number_of_queries(
    client, pic, site, django_assert_max_num_queries
):
    for i in range(25):
        UserFactory(site=site, role=Role.TECHNICIAN, username=f"tech{i}")
    sign_in(client, pic)
    client.get(reverse("staff_list"))
    # session, user, site, TOTP devices, the session's last-seen time (3), the staff list
    with django_assert_max_num_queries(8):
        response = client.get(reverse("staff_list"))
    assert len(response.context["rows"]) == 26


def staff_form(**overrides: str) -> dict[str, str]:
    data = {
        "username": "newtech",
        "first_name": "Nia",
        "last_name": "Lopez",
        "email": "nia@example.com",
        "role": "technician",
        "password": "counter-shift-77",
        "technician_registration": "TR-555",
        "technician_registration_expires": "12/31/2030",
        "certification": "",
        "certification_number": "",
        "certification_expires": "",
        "pharmacist_license": "",
        "pharmacist_license_expires": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", STAFF_EDITORS)
def test_staff_editors_add_an_account_that_can_sign_in(client, personas, role):
    sign_in(client, personas[role])
    assert client.get(reverse("staff_create")).status_code == 200
    response = client.post(reverse("staff_create"), staff_form())
    assert response.status_code == 302
    member = User.objects.get(username="newtech")
    assert (member.role, member.site_id, member.technician_registration_expires) == (
        "technician",
        personas[role].site_id,
        dt.date(2030, 12, 31),
    )
    assert member.check_password("counter-shift-77")
    [created] = events("staff.created")
    assert "counter-shift-77" not in created.data


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password": "password"}, "password", "too common"),
        ({"password": ""}, "password", "This field is required."),
        ({"username": "tech"}, "username", "That user name is taken."),
        ({"role": "wizard"}, "role", "Select a valid choice."),
        (
            {"technician_registration": ""},
            "technician_registration",
            "Enter the number this expiry belongs to.",
        ),
        (
            {"technician_registration_expires": "31/12/2030"},
            "technician_registration_expires",
            "Enter the date as MM/DD/YYYY.",
        ),
    ],
)
def test_a_bad_account_is_refused_beside_its_field(client, pic, technician, data, field, message):
    sign_in(client, pic)
    before = (User.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("staff_create"), staff_form(**data))
    assert response.status_code == 422
    assert any(message in e for e in response.context["form"].errors[field])
    assert (User.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("role", others(STAFF_EDITORS))
def test_other_roles_may_not_add_staff(client, personas, role):
    sign_in(client, personas[role])
    before = (User.objects.count(), AuditEvent.objects.count())
    assert client.get(reverse("staff_create")).status_code == 403
    assert client.post(reverse("staff_create"), staff_form()).status_code == 403
    assert (User.objects.count(), AuditEvent.objects.count()) == before


def test_only_an_admin_creates_an_admin(client, pic):
    sign_in(client, pic)
    before = (User.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("staff_create"), staff_form(role="admin"))
    assert response.status_code == 403
    assert "Only an administrator" in response.text
    assert (User.objects.count(), AuditEvent.objects.count()) == before


def test_a_staff_editor_renews_a_registration_and_deactivates_an_account(client, pic, technician):
    sign_in(client, pic)
    url = reverse("staff_edit", args=[technician.pk])
    form = client.get(url).context["form"]
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data.update(technician_registration_expires="06/30/2031", is_active="")
    response = client.post(url, data)
    assert response.status_code == 302
    technician.refresh_from_db()
    assert technician.technician_registration_expires == dt.date(2031, 6, 30)
    assert technician.is_active is False
    [updated] = events("staff.updated")
    assert set(json.loads(updated.data)["changes"]) == {
        "is_active",
        "technician_registration_expires",
    }


def test_nobody_deactivates_themselves(client, pic):
    sign_in(client, pic)
    url = reverse("staff_edit", args=[pic.pk])
    data = {k: ("" if v is None else v) for k, v in client.get(url).context["form"].initial.items()}
    data["is_active"] = ""
    before = AuditEvent.objects.count()
    response = client.post(url, data)
    assert response.status_code == 409
    assert "cannot change your own role or deactivate yourself" in response.text
    pic.refresh_from_db()
    assert pic.is_active is True
    assert AuditEvent.objects.count() == before


def test_staff_of_another_pharmacy_is_not_found(client, pic, outsider):
    sign_in(client, pic)
    assert client.get(reverse("staff_edit", args=[outsider.pk])).status_code == 404
    assert (
        client.post(reverse("staff_edit", args=[outsider.pk]), {"role": "admin"}).status_code == 404
    )
    outsider.refresh_from_db()
    assert outsider.role == "technician"


def test_an_auditor_reads_staff_but_may_not_edit_them(client, auditor, technician):
    sign_in(client, auditor)
    assert reverse("staff_edit", args=[technician.pk]) not in client.get(reverse("staff_list")).text
    assert client.get(reverse("staff_edit", args=[technician.pk])).status_code == 403


# --- Audit log --------------------------------------------------------------------------------


@pytest.fixture
def trail(site, technician, pharmacist) -> list[AuditEvent]:
    """Four events at known times (the site is in America/Chicago)."""
    specs = [
        (dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), technician, "patient.created", 41),
        # 05:30 UTC on March 2nd is still March 1st in Chicago
        (dt.datetime(2026, 3, 2, 5, 30, tzinfo=dt.UTC), technician, "patient.record.viewed", 41),
        (dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), pharmacist, "patient.record.viewed", 42),
        (dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC), pharmacist, "staff.updated", None),
    ]
    out = []
    for when, actor, action, patient_id in specs:
        with time_machine.travel(when, tick=False), transaction.atomic():
            out.append(
                audit_record(
                    actor=actor,
                    action=action,
                    patient_id=patient_id,
                    object_type="patients.patient",
                    object_id=patient_id or "",
                    reason="checked",
                )
            )
    return out


@pytest.mark.parametrize("role", AUDIT_VIEWERS)
def test_audit_viewers_read_the_log_in_the_site_time_zone(client, personas, trail, role):
    sign_in(client, personas[role])
    response = client.get(reverse("audit_list"))
    assert response.status_code == 200
    seqs = [e.seq for e in response.context["events"]]
    assert seqs == sorted(seqs, reverse=True)
    assert "03/01/2026 23:30:00" in response.text  # 05:30 UTC on March 2nd, in Chicago
    assert "test-request" in response.text and "patient.record.viewed" in response.text


@pytest.mark.parametrize("role", others(AUDIT_VIEWERS))
def test_other_roles_may_not_read_the_log(client, personas, trail, role):
    sign_in(client, personas[role])
    response = client.get(reverse("audit_list"))
    assert response.status_code == 403
    assert "patient.record.viewed" not in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"who": "tech"}, [2, 1]),
        ({"who": "RPH"}, [4, 3]),
        ({"action": "patient.record"}, [3, 2]),
        ({"patient_id": "41"}, [2, 1]),
        ({"since": "03/02/2026", "until": "03/02/2026"}, [3]),
        ({"since": "03/01/2026", "until": "03/01/2026"}, [2, 1]),
        ({"until": "12/31/9999", "since": "01/01/0001"}, [4, 3, 2, 1]),
    ],
)
def test_the_log_filters_by_who_action_patient_and_local_day(
    client, auditor, trail, query, expected
):
    sign_in(client, auditor)
    response = client.get(reverse("audit_list"), query)
    assert response.status_code == 200
    trail_seqs = {e.seq for e in trail}
    assert [e.seq for e in response.context["events"] if e.seq in trail_seqs] == [
        trail[i - 1].seq for i in expected
    ]


@pytest.mark.parametrize(
    "query",
    [
        {"patient_id": "abc"},
        {"patient_id": "-3"},
        {"since": "02/30/2026"},
        {"until": "yesterday"},
        {"before": "x"},
        {"patient_id": "9" * 30},
    ],
)
def test_bad_filters_are_shown_not_crashed_on(client, auditor, trail, query):
    sign_in(client, auditor)
    response = client.get(reverse("audit_list"), query)
    assert response.status_code == 422
    assert response.context["form"].errors
    assert response.context["events"] == []


def test_the_log_pages_by_sequence_number(client, pic, site, technician):
    for _ in range(120):
        with transaction.atomic():
            audit_record(actor=technician, action="patient.record.viewed", patient_id=7)
    sign_in(client, pic)
    first = client.get(reverse("audit_list"), {"patient_id": "7"})
    page1 = [e.seq for e in first.context["events"]]
    assert len(page1) == 50 and first.context["has_older"] and not first.context["has_newer"]
    assert f"before={page1[-1]}" in first.text and "patient_id=7" in first.text
    second = client.get(reverse("audit_list"), {"patient_id": "7", "before": page1[-1]})
    page2 = [e.seq for e in second.context["events"]]
    assert page2 == list(range(page1[-1] - 1, page1[-1] - 51, -1))
    assert second.context["has_newer"]
    back = client.get(reverse("audit_list"), {"patient_id": "7", "after": page2[0]})
    assert [e.seq for e in back.context["events"]] == page1


def test_the_log_runs_a_fixed_number_of_queries(
    client, auditor, technician, django_assert_max_num_queries
):
    for _ in range(60):
        with transaction.atomic():
            audit_record(actor=technician, action="patient.record.viewed", patient_id=7)
    sign_in(client, auditor)
    client.get(reverse("audit_list"))
    # session, user, site, TOTP devices, the session's last-seen time (3), one page
    with django_assert_max_num_queries(8):
        response = client.get(reverse("audit_list"))
    assert len(response.context["events"]) == 50


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize("role", AUDIT_VIEWERS)
def test_the_export_is_a_csv_of_the_filtered_log_and_is_itself_logged(
    client, personas, trail, role
):
    user = personas[role]
    sign_in(client, user)
    response = client.get(reverse("audit_export"), {"who": "tech", "action": "patient."})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-site')
    rows = read_csv(response)
    assert rows[0] == CSV_COLUMNS
    assert [(r[0], r[2], r[5], r[8]) for r in rows[1:]] == [
        (str(trail[1].seq), "tech", "patient.record.viewed", "41"),
        (str(trail[0].seq), "tech", "patient.created", "41"),
    ]
    assert rows[2][1] == "2026-03-01T12:00:00+00:00"
    assert rows[1][-1] == trail[1].hash
    [exported] = events("audit.exported")
    assert exported.actor_id == user.pk
    assert json.loads(exported.data) == {
        "filters": {"who": "tech", "action": "patient."},
        "rows": 2,
        "through_seq": exported.seq - 1,  # everything before the export itself
    }


def test_the_export_counts_exactly_the_rows_it_holds_and_defuses_formulas(
    client, auditor, trail, site
):
    # Given an event whose text a spreadsheet would run as a formula
    from django.db import transaction

    from rxdesk.core.audit import audit_record

    with transaction.atomic():
        audit_record(
            actor=None,
            site=site,
            action="auth.sign_in_failed",
            actor_name='=HYPERLINK("http://evil")',
            reason="+1+1",
        )
    sign_in(client, auditor)

    # When the whole log is exported (the export's own event matches no earlier filter)
    rows = read_csv(client.get(reverse("audit_export")))

    # Then the file holds exactly the rows its audit event counts, and no cell is a formula
    [exported] = events("audit.exported")
    assert len(rows) - 1 == json.loads(exported.data)["rows"]
    forged = next(r for r in rows[1:] if r[5] == "auth.sign_in_failed" and "HYPERLINK" in r[2])
    assert forged[2] == '\'=HYPERLINK("http://evil")'
    assert forged[10] == "'+1+1"


def test_an_export_with_bad_filters_exports_and_logs_nothing(client, auditor, trail):
    sign_in(client, auditor)
    response = client.get(reverse("audit_export"), {"since": "13/13/2026"})
    assert response.status_code == 422
    assert events("audit.exported") == []


@pytest.mark.parametrize("role", others(AUDIT_VIEWERS))
def test_other_roles_may_not_export_the_log(client, personas, trail, role):
    sign_in(client, personas[role])
    response = client.get(reverse("audit_export"))
    assert response.status_code == 403
    assert not response.get("Content-Disposition")
    assert events("audit.exported") == []


@pytest.mark.parametrize("role", AUDIT_VERIFIERS)
def test_verifying_the_chain_reports_it_intact_and_logs_the_check(client, personas, trail, role):
    user = personas[role]
    sign_in(client, user)
    assert client.get(reverse("audit_verify")).status_code == 200
    response = client.post(reverse("audit_verify"))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.intact
    assert "intact" in response.text
    [verified] = events("audit.verified")
    assert verified.actor_id == user.pk
    data = json.loads(verified.data)
    assert data["intact"] is True and data["head_seq"] == report.head_seq == verified.seq - 1


@pytest.mark.parametrize("role", others(AUDIT_VERIFIERS))
def test_other_roles_may_not_verify_the_chain(client, personas, trail, role):
    sign_in(client, personas[role])
    before = AuditEvent.objects.count()
    assert client.get(reverse("audit_verify")).status_code == 403
    assert client.post(reverse("audit_verify")).status_code == 403
    assert AuditEvent.objects.count() == before


def test_verifying_names_the_first_broken_link(client, auditor, trail):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's trigger refuses the tampering this test needs")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_auditevent SET reason = 'nothing to see' WHERE id = %s", [trail[2].pk]
        )
    sign_in(client, auditor)
    response = client.post(reverse("audit_verify"))
    assert response.status_code == 200
    assert "broken" in response.text
    assert f"event #{trail[2].seq}" in response.text
    [verified] = events("audit.verified")
    assert json.loads(verified.data)["intact"] is False


def test_pages_run_in_the_signed_in_pharmacys_time_zone(rf, technician):
    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    from rxdesk.core.middleware import SiteTimeZoneMiddleware

    seen: list[str] = []

    def page(request):  # type: ignore[no-untyped-def]
        seen.append(timezone.get_current_timezone_name())
        return None

    middleware = SiteTimeZoneMiddleware(page)
    request = rf.get("/")
    request.user = technician
    middleware(request)
    request.user = AnonymousUser()
    middleware(request)
    assert seen == ["America/Chicago", "UTC"]
    assert timezone.get_current_timezone_name() == "UTC"
