"""Services of the outreach lists: opening a list (PHI access) and recording a contact."""

from __future__ import annotations

import json

import pytest

from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.outreach import services
from rxdesk.outreach.models import OutreachContact
from tests.factories import PatientFactory
from tests.outreach.setup import drug, history, prescribe


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- outreach_contact_record ---------------------------------------------------------------------


def test_it_records_a_contact_and_its_audit_event(site, technician):
    patient = PatientFactory(site=site)

    contact = services.outreach_contact_record(
        actor=technician,
        patient_id=patient.pk,
        kind="sync",
        outcome="scheduled",
        note="  Tue 10am ",
    )

    row = OutreachContact.objects.get()
    assert row == contact
    assert (row.site_id, row.patient_id, row.kind, row.outcome, row.note) == (
        site.pk,
        patient.pk,
        "sync",
        "scheduled",
        "Tue 10am",
    )
    assert row.by == technician
    assert row.by_name == (technician.get_full_name() or technician.username)
    [event] = _events("outreach.contact.recorded")
    assert event.patient_id == patient.pk
    assert (event.object_type, event.object_id) == ("outreach.outreachcontact", str(row.pk))
    assert json.loads(event.data) == {"list": "sync", "outcome": "scheduled", "note": True}
    assert "Tue 10am" not in str(event.data)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"outcome": "declined", "note": ""}, "note"),
        ({"outcome": "wrong_number", "note": "   "}, "note"),
        ({"outcome": "maybe"}, "outcome"),
        ({"kind": "birthdays"}, "kind"),
        ({"note": "x" * 501}, "note"),
    ],
)
def test_it_refuses_a_broken_rule_and_writes_nothing(site, technician, changes, field):
    patient = PatientFactory(site=site)
    values = {"patient_id": patient.pk, "kind": "refills", "outcome": "reached", "note": ""}
    values.update(changes)
    with pytest.raises(Invalid) as exc:
        services.outreach_contact_record(actor=technician, **values)
    assert exc.value.field == field
    assert OutreachContact.objects.count() == 0
    assert _events("outreach.contact.recorded") == []


def test_the_declined_message_names_the_outcome(site, technician):
    patient = PatientFactory(site=site)
    with pytest.raises(Invalid) as exc:
        services.outreach_contact_record(
            actor=technician, patient_id=patient.pk, kind="refills", outcome="declined"
        )
    assert exc.value.message == "Add a note saying why: declined."


@pytest.mark.parametrize("persona", ["trainee", "inventory", "auditor", "admin_user"])
def test_it_refuses_a_role_without_outreach_and_writes_nothing(request, site, persona):
    actor = request.getfixturevalue(persona)
    patient = PatientFactory(site=site)
    with pytest.raises(Forbidden):
        services.outreach_contact_record(
            actor=actor, patient_id=patient.pk, kind="refills", outcome="reached"
        )
    assert OutreachContact.objects.count() == 0
    assert _events("outreach.contact.recorded") == []


def test_another_sites_patient_does_not_exist_here(site, other_site, technician):
    patient = PatientFactory(site=other_site)
    with pytest.raises(NotFound):
        services.outreach_contact_record(
            actor=technician, patient_id=patient.pk, kind="refills", outcome="reached"
        )
    assert OutreachContact.objects.count() == 0
    assert _events("outreach.contact.recorded") == []


def test_signing_in_is_needed(site):
    patient = PatientFactory(site=site)
    with pytest.raises(Forbidden):
        services.outreach_contact_record(
            actor=None, patient_id=patient.pk, kind="refills", outcome="reached"
        )
    assert OutreachContact.objects.count() == 0


# --- outreach_list_open --------------------------------------------------------------------------


def test_opening_a_list_records_phi_access_naming_the_patients(site, pharmacist, technician):
    today = site.today()
    first = PatientFactory(site=site, last_name="Alpha")
    second = PatientFactory(site=site, last_name="Beta")
    med = drug("Lisinopril", "LISINOPRIL")
    history(prescribe(pharmacist, first, med), today, (50, 30))
    history(prescribe(pharmacist, second, med), today, (25, 30))

    listing = services.outreach_list_open(
        actor=technician, kind="refills", output="screen", filters={"ahead": 7}, shown=1
    )

    assert [r.patient.pk for r in listing.rows] == [first.pk, second.pk]
    [event] = _events("outreach.list.opened")
    assert event.actor_id == technician.pk
    assert (event.object_type, event.object_id) == ("outreach.list", "refills")
    assert json.loads(event.data) == {
        "list": "refills",
        "filters": {"ahead": "7", "behind": "30"},
        "as_of": today.isoformat(),
        "format": "screen",
        "rows": 2,
        "shown": 1,
        "patient_ids": [first.pk],
    }


def test_a_bad_filter_opens_nothing(site, technician):
    with pytest.raises(Invalid) as exc:
        services.outreach_list_open(
            actor=technician, kind="adherence", output="json", filters={"days": 5}
        )
    assert exc.value.field == "days"
    assert _events("outreach.list.opened") == []
    with pytest.raises(Invalid):
        services.outreach_list_open(actor=technician, kind="birthdays", output="json")
    with pytest.raises(Invalid):
        services.outreach_list_open(actor=technician, kind="sync", output="pdf")
    assert _events("outreach.list.opened") == []


@pytest.mark.parametrize("persona", ["trainee", "inventory", "auditor", "admin_user"])
def test_a_role_without_outreach_cannot_open_a_list(request, persona):
    actor = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        services.outreach_list_open(actor=actor, kind="sync", output="screen")
    assert _events("outreach.list.opened") == []


def test_each_kind_opens(site, pic):
    for kind in ("refills", "adherence", "vaccines", "sync"):
        listing = services.outreach_list_open(actor=pic, kind=kind, output="json")
        assert listing.kind == kind
        assert listing.today == site.today()
    assert len(_events("outreach.list.opened")) == 4


def test_the_demo_records_a_few_contacts_once(site, technician):
    from rxdesk.outreach import demo

    for n in range(3):
        PatientFactory(site=site, last_name=f"Demo{n}")
    demo.load(site, {"tech": technician})
    demo.load(site, {"tech": technician})
    assert sorted(OutreachContact.objects.values_list("kind", "outcome")) == [
        ("refills", "left_message"),
        ("refills", "refill_queued"),
        ("sync", "scheduled"),
    ]
