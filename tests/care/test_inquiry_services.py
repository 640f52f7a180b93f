"""Services of inquiries: opening, the log, callbacks, escalation, answers, closing and
reopening — each rule, each refusal (nothing written), the audit events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxdesk.care import queries_inquiries as queries
from rxdesk.care import services_inquiries as services
from rxdesk.care.models import Inquiry, InquiryEntry
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from tests.care.factories import care_settings, staff
from tests.care.poct_setup import patient, prescriber
from tests.conftest import last_event
from tests.rx.factories import make_rx

pytestmark = pytest.mark.django_db


def _counts():
    return (Inquiry.objects.count(), InquiryEntry.objects.count(), AuditEvent.objects.count())


def _call(actor, **over):
    values = {
        "channel": "phone",
        "incoming": True,
        "party": "patient",
        "topic": "drug_info",
        "summary": "Can I take it with food?",
        "patient": patient(actor.site),
    }
    values.update(over)
    return services.inquiry_open(actor=actor, **values)


def test_an_incoming_call_waits_for_a_callback_at_the_sites_hours(site, technician):
    care_settings(site, callback_hours=2)
    before = timezone.now()
    inquiry = _call(technician, contact_phone="(555) 201-4477")
    assert inquiry.status == "awaiting" and inquiry.contact_phone == "5552014477"
    assert (
        before + dt.timedelta(hours=2)
        <= inquiry.callback_due
        <= timezone.now() + dt.timedelta(hours=2)
    )
    (entry,) = inquiry.entries.all()
    assert (entry.kind, entry.text, entry.by) == ("call_in", "Can I take it with food?", technician)
    event = last_event()
    assert event.action == "care.inquiry.opened" and event.patient_id == inquiry.patient_id
    assert "food" not in event.data


def test_an_outgoing_fax_to_a_prescriber_is_open_and_takes_the_rx_patient(site, technician):
    rx = make_rx(technician)
    inquiry = _call(
        technician,
        channel="fax",
        incoming=False,
        party="prescriber",
        topic="clarification",
        patient=None,
        prescription=rx,
    )
    assert inquiry.status == "open" and inquiry.callback_due is None
    assert inquiry.patient_id == rx.patient_id and inquiry.prescriber_id == rx.prescriber_id
    assert inquiry.entries.get().kind == "note"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"party": "alien"}, "party"),
        ({"topic": "weather"}, "topic"),
        ({"summary": "  "}, "summary"),
        ({"patient": None}, "patient"),
        ({"party": "prescriber", "patient": None}, "prescriber"),
        ({"party": "caregiver"}, "contact_name"),
        ({"contact_phone": "555-1234"}, "contact_phone"),
        ({"contact_phone": "abc"}, "contact_phone"),
        ({"callback_due": timezone.now() - dt.timedelta(minutes=1)}, "callback_due"),
        ({"callback_due": timezone.now() + dt.timedelta(days=60)}, "callback_due"),
        ({"callback_due": dt.datetime(2030, 1, 1, 9, 0)}, "callback_due"),
    ],
)
def test_a_bad_inquiry_is_refused_and_nothing_is_written(site, technician, over, field):
    values = {"patient": patient(site), **over}
    before = _counts()
    with pytest.raises(Invalid) as err:
        _call(technician, **values)
    assert err.value.field == field
    assert _counts() == before


def test_rows_of_another_site_or_patient_are_refused(site, other_site, technician):
    mine = patient(site)
    rx = make_rx(technician)  # another patient's
    before = _counts()
    for over, field in (
        ({"patient": patient(other_site)}, "patient"),
        ({"party": "prescriber", "prescriber": prescriber(other_site)}, "prescriber"),
        ({"patient": mine, "prescription": rx}, "prescription"),
    ):
        with pytest.raises(Invalid) as err:
            _call(technician, **over)
        assert err.value.field == field
    assert _counts() == before


def test_a_trainee_and_an_auditor_may_not_log_inquiries(site, trainee, auditor):
    before = _counts()
    for who in (trainee, auditor):
        with pytest.raises(Forbidden):
            _call(who, patient=patient(site))
    assert _counts() == before


def test_a_call_made_settles_the_callback_and_a_note_does_not(site, technician):
    inquiry = _call(technician)
    services.inquiry_note(actor=technician, inquiry=inquiry, kind="note", text="Looked it up")
    inquiry.refresh_from_db()
    assert inquiry.status == "awaiting"
    services.inquiry_note(actor=technician, inquiry=inquiry, kind="call_out", text="Told her: yes")
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.callback_due) == ("open", None)
    assert last_event().action == "care.inquiry.noted"
    with pytest.raises(Invalid) as err:
        services.inquiry_note(actor=technician, inquiry=inquiry, kind="closed", text="x")
    assert err.value.field == "kind"


def test_a_callback_is_scheduled_in_the_future(site, technician):
    inquiry = _call(technician, incoming=False, channel="phone")
    due = timezone.now() + dt.timedelta(hours=3)
    services.inquiry_callback(actor=technician, inquiry=inquiry, due=due)
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.callback_due) == ("awaiting", due)
    assert inquiry.entries.last().kind == "callback"
    before = _counts()
    with pytest.raises(Invalid):
        services.inquiry_callback(actor=technician, inquiry=inquiry, due=timezone.now())
    assert _counts() == before


def test_escalation_goes_to_a_named_current_pharmacist_or_to_any(site, technician, pharmacist):
    inquiry = _call(technician)
    services.inquiry_escalate(
        actor=technician, inquiry=inquiry, reason="Asks about a dose", pharmacist=pharmacist
    )
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.escalated_to) == ("escalated", pharmacist)
    event = last_event()
    assert (
        event.action == "care.inquiry.escalated" and f'"escalated_to":{pharmacist.pk}' in event.data
    )
    services.inquiry_escalate(actor=technician, inquiry=inquiry, reason="Anyone")
    inquiry.refresh_from_db()
    assert inquiry.escalated_to is None


def test_escalation_to_a_non_pharmacist_or_a_lapsed_one_is_refused(site, other_site, technician):
    inquiry = _call(technician)
    lapsed = staff(site, Role.PHARMACIST, username="lapsed-rph")
    lapsed.pharmacist_license_expires = site.today() - dt.timedelta(days=1)
    lapsed.save()
    before = _counts()
    for who in (
        staff(site, Role.TECHNICIAN, username="t2"),
        lapsed,
        staff(other_site, Role.PHARMACIST, username="far"),
    ):
        with pytest.raises(Invalid) as err:
            services.inquiry_escalate(
                actor=technician, inquiry=inquiry, reason="Dose", pharmacist=who
            )
        assert err.value.field == "pharmacist"
    assert _counts() == before


def test_only_a_pharmacist_answers(site, technician, pharmacist):
    inquiry = _call(technician)
    services.inquiry_escalate(actor=technician, inquiry=inquiry, reason="Dose question")
    before = _counts()
    with pytest.raises(Forbidden):
        services.inquiry_answer(actor=technician, inquiry=inquiry, text="Take 2")
    assert _counts() == before
    services.inquiry_answer(actor=pharmacist, inquiry=inquiry, text="Take one with food")
    inquiry.refresh_from_db()
    assert inquiry.status == "awaiting"  # the caller is still owed the call back
    assert last_event().action == "care.inquiry.answered"


def test_a_technician_may_not_close_a_prescribers_order_change(site, technician, pharmacist):
    rx = make_rx(technician)
    inquiry = _call(
        technician, party="prescriber", topic="dose_change", patient=None, prescription=rx
    )
    before = _counts()
    with pytest.raises(Forbidden, match="new or changed order"):
        services.inquiry_close(actor=technician, inquiry=inquiry, resolution="Changed to 20 mg")
    assert _counts() == before
    services.inquiry_close(actor=pharmacist, inquiry=inquiry, resolution="New order taken: 20 mg")
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.closed_by, inquiry.resolution) == (
        "closed",
        pharmacist,
        "New order taken: 20 mg",
    )


def test_an_escalated_inquiry_waits_for_the_pharmacist_before_a_technician_closes_it(
    site, technician, pharmacist
):
    inquiry = _call(technician)
    services.inquiry_escalate(actor=technician, inquiry=inquiry, reason="Dose")
    with pytest.raises(Conflict):
        services.inquiry_close(actor=technician, inquiry=inquiry, resolution="Done")
    services.inquiry_answer(actor=pharmacist, inquiry=inquiry, text="One a day")
    services.inquiry_close(actor=technician, inquiry=inquiry, resolution="Told her")
    inquiry.refresh_from_db()
    assert inquiry.status == "closed"


def test_a_closed_inquiry_takes_no_entries_until_reopened(site, technician):
    inquiry = _call(technician)
    services.inquiry_close(actor=technician, inquiry=inquiry, resolution="Answered on the phone")
    assert last_event().action == "care.inquiry.closed"
    before = _counts()
    for call in (
        lambda: services.inquiry_note(actor=technician, inquiry=inquiry, kind="note", text="x"),
        lambda: services.inquiry_callback(
            actor=technician, inquiry=inquiry, due=timezone.now() + dt.timedelta(hours=1)
        ),
        lambda: services.inquiry_escalate(actor=technician, inquiry=inquiry, reason="x"),
        lambda: services.inquiry_close(actor=technician, inquiry=inquiry, resolution="again"),
    ):
        with pytest.raises(Conflict):
            call()
    assert _counts() == before
    with pytest.raises(Invalid):
        services.inquiry_reopen(actor=technician, inquiry=inquiry, reason="")
    services.inquiry_reopen(actor=technician, inquiry=inquiry, reason="She called again")
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.closed_at, inquiry.resolution) == ("open", None, "")
    kinds = list(inquiry.entries.values_list("kind", flat=True))
    assert kinds == ["call_in", "closed", "reopened"]
    with pytest.raises(Conflict):
        services.inquiry_reopen(actor=technician, inquiry=inquiry, reason="x")


def test_another_sites_inquiry_is_not_found(site, other_site, technician):
    theirs = _call(
        staff(other_site, Role.TECHNICIAN, username="far-tech"), patient=patient(other_site)
    )
    with pytest.raises(NotFound):
        services.inquiry_note(actor=technician, inquiry=theirs, kind="note", text="x")
    with pytest.raises(NotFound):
        queries.inquiry_get(actor=technician, inquiry_id=theirs.pk)


def test_the_queue_puts_overdue_callbacks_first(site, technician, pharmacist):
    now = timezone.now()
    late = _call(technician)
    Inquiry.objects.filter(pk=late.pk).update(callback_due=now - dt.timedelta(hours=1, minutes=20))
    later = _call(technician)
    Inquiry.objects.filter(pk=later.pk).update(callback_due=now - dt.timedelta(minutes=5))
    waiting = _call(technician)
    mine = _call(technician)
    services.inquiry_escalate(actor=technician, inquiry=mine, reason="x", pharmacist=pharmacist)
    Inquiry.objects.filter(pk=mine.pk).update(callback_due=now + dt.timedelta(hours=3))
    anyone = _call(technician, incoming=False)
    services.inquiry_escalate(actor=technician, inquiry=anyone, reason="x")
    opened = _call(technician, incoming=False)
    q = queries.queue(actor=pharmacist, now=now)
    assert [i.pk for i in q.overdue] == [late.pk, later.pk]
    assert [i.pk for i in q.escalated] == [mine.pk, anyone.pk]
    assert [i.pk for i in q.open] == [opened.pk]
    assert [i.pk for i in q.waiting] == [waiting.pk]
    assert q.escalated_to_me == 1
    assert queries.overdue_count(actor=technician, now=now) == 2
    assert (
        queries.due_words(now - dt.timedelta(hours=1, minutes=20), now) == "overdue by 1 h 20 min"
    )
    assert queries.due_words(now + dt.timedelta(minutes=45), now) == "due in 45 min"
    assert list(queries.for_patient(late.patient)) == [late]


def test_opening_an_inquiry_that_names_a_patient_is_a_phi_access(site, technician):
    inquiry = _call(technician)
    services.inquiry_viewed(actor=technician, inquiry=inquiry)
    event = last_event()
    assert (event.action, event.patient_id) == ("care.inquiry.viewed", inquiry.patient_id)
    rx = make_rx(technician)
    no_patient = _call(
        technician, party="prescriber", patient=None, prescriber=rx.prescriber, topic="other"
    )
    Inquiry.objects.filter(pk=no_patient.pk).update(patient=None)
    no_patient.refresh_from_db()
    before = AuditEvent.objects.count()
    services.inquiry_viewed(actor=technician, inquiry=no_patient)
    assert AuditEvent.objects.count() == before
