"""Prior authorization cases: opening (idempotent per prescription and plan), the status
rules, documents, the approval in effect for a claim and the PA queue."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import IntegrityError, transaction

from rxdesk.claims import queries_pa
from rxdesk.claims.choices import PriorAuthStatus as S
from rxdesk.claims.models import MAX_DOCUMENT_BYTES, PriorAuth, PriorAuthDocument, PriorAuthEvent
from rxdesk.claims.services_pa import pa_document_add, pa_document_read, pa_open, pa_update
from rxdesk.core.audit import audit_verify_site
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.rx.choices import RxStatus
from rxdesk.rx.models import Prescription
from tests.claims.matrix_pa import (
    JPEG,
    PDF,
    PNG,
    TIFF,
    case,
    document,
    plan,
    prescription,
    rejected_claim,
)
from tests.conftest import audit_count, last_event


def _written() -> tuple[int, int, int, int]:
    return (
        PriorAuth.objects.count(),
        PriorAuthEvent.objects.count(),
        PriorAuthDocument.objects.count(),
        audit_count(),
    )


def _days(n: int, site) -> dt.date:
    return site.today() + dt.timedelta(days=n)


# --- opening ----------------------------------------------------------------------------------


def test_it_opens_a_case_as_needed_with_its_first_event_and_audit(site, technician):
    rx = prescription(site)
    the_plan = plan()

    pa = pa_open(actor=technician, prescription=rx, plan=the_plan, note="Reject 75 today")

    assert (pa.status, pa.site_id, pa.opened_by, pa.note) == (
        S.NEEDED,
        site.pk,
        technician,
        "Reject 75 today",
    )
    events = list(pa.events.values_list("status_from", "status_to", "note", "actor"))
    assert events == [("", S.NEEDED, "Reject 75 today", technician.pk)]
    event = last_event()
    assert (event.action, event.object_id, event.patient_id) == (
        "claims.pa.opened",
        str(pa.pk),
        rx.patient_id,
    )
    assert f'"prescription_id":{rx.pk}' in event.data
    assert audit_verify_site(site.pk).intact


def test_opening_again_returns_the_open_case_and_writes_nothing(site, technician, pharmacist):
    rx, the_plan = prescription(site), plan()
    first = pa_open(actor=technician, prescription=rx, plan=the_plan)
    before = _written()

    again = pa_open(actor=pharmacist, prescription=rx, plan=the_plan, note="second click")

    assert again.pk == first.pk
    assert _written() == before


def test_a_submitted_case_is_still_the_open_one(site, technician):
    pa = case(site, S.SUBMITTED)

    again = pa_open(actor=technician, prescription=pa.prescription, plan=pa.plan)

    assert again.pk == pa.pk


@pytest.mark.parametrize("closed", [S.APPROVED, S.DENIED, S.ABANDONED])
def test_a_closed_case_does_not_stop_a_new_one(site, technician, closed):
    old = case(site, closed)

    new = pa_open(actor=technician, prescription=old.prescription, plan=old.plan)

    assert new.pk != old.pk
    assert new.status == S.NEEDED


def test_another_plan_gets_its_own_case(site, technician):
    pa = case(site)
    other = plan(bin="004336", pcn="ADV", name="Other Plan")

    new = pa_open(actor=technician, prescription=pa.prescription, plan=other)

    assert new.pk != pa.pk


def test_the_database_allows_one_open_case_per_prescription_and_plan(site):
    pa = case(site)

    with pytest.raises(IntegrityError), transaction.atomic():
        case(site, S.SUBMITTED, rx=pa.prescription, the_plan=pa.plan)


def test_it_links_the_rejected_claim(site, technician):
    claim = rejected_claim(site, ["75"])
    rx = claim.fill.prescription

    pa = pa_open(actor=technician, prescription=rx, plan=claim.plan, claim=claim)

    assert pa.claim_id == claim.pk


def test_a_claim_of_another_prescription_is_refused(site, technician):
    claim = rejected_claim(site, ["75"])
    other_rx = prescription(site)
    before = _written()

    with pytest.raises(Invalid) as err:
        pa_open(actor=technician, prescription=other_rx, plan=claim.plan, claim=claim)

    assert err.value.field == "claim"
    assert _written() == before


@pytest.mark.parametrize("status", [RxStatus.INACTIVE, RxStatus.TRANSFERRED])
def test_a_prescription_no_longer_active_needs_no_pa(site, technician, status):
    rx = prescription(site)
    Prescription.objects.filter(pk=rx.pk).update(status=status)
    before = _written()

    with pytest.raises(Conflict) as err:
        pa_open(actor=technician, prescription=rx, plan=plan())

    assert err.value.field == "prescription"
    assert _written() == before


def test_a_note_too_long_is_refused(site, technician):
    rx, the_plan = prescription(site), plan()
    before = _written()

    with pytest.raises(Invalid) as err:
        pa_open(actor=technician, prescription=rx, plan=the_plan, note="x" * 501)

    assert err.value.field == "note"
    assert _written() == before


@pytest.mark.parametrize("who", ["trainee", "auditor", "inventory", "admin_user"])
def test_roles_without_claims_bill_cannot_open(request, site, who):
    actor = request.getfixturevalue(who)
    rx, the_plan = prescription(site), plan()
    before = _written()

    with pytest.raises(Forbidden):
        pa_open(actor=actor, prescription=rx, plan=the_plan)

    assert _written() == before


def test_another_pharmacys_prescription_does_not_exist(site, outsider):
    rx = prescription(site)
    before = _written()

    with pytest.raises(NotFound):
        pa_open(actor=outsider, prescription=rx, plan=plan())

    assert _written() == before


# --- status rules -----------------------------------------------------------------------------


def test_a_case_goes_needed_submitted_approved(site, technician):
    pa = pa_open(actor=technician, prescription=prescription(site), plan=plan())
    follow = _days(3, site)

    pa = pa_update(
        actor=technician,
        prior_auth=pa,
        status=S.SUBMITTED,
        follow_up_on=follow,
        note="Faxed to Dr Okafor",
    )
    assert (pa.status, pa.follow_up_on, pa.closed_at) == (S.SUBMITTED, follow, None)

    pa = pa_update(
        actor=technician,
        prior_auth=pa,
        status=S.APPROVED,
        number=" pa 998877 ",
        approved_from=site.today(),
        approved_to=_days(365, site),
    )

    pa.refresh_from_db()
    assert (pa.status, pa.number, pa.approved_from, pa.approved_to) == (
        S.APPROVED,
        "PA998877",
        site.today(),
        _days(365, site),
    )
    assert pa.closed_at is not None
    history = list(pa.events.order_by("pk").values_list("status_from", "status_to", "note"))
    assert history == [
        ("", S.NEEDED, "Case opened."),
        (S.NEEDED, S.SUBMITTED, "Faxed to Dr Okafor"),
        (
            S.SUBMITTED,
            S.APPROVED,
            f"Approved: PA PA998877, {site.today():%m/%d/%Y} to {_days(365, site):%m/%d/%Y}.",
        ),
    ]
    event = last_event()
    assert event.action == "claims.pa.updated"
    assert event.patient_id == pa.prescription.patient_id
    assert '"status_from":"submitted","status_to":"approved"' in event.data
    assert "PA998877" not in event.data  # the number stays in the case, not the audit log


def test_approval_needs_number_and_dates_and_nothing_changes_without_them(site, technician):
    pa = case(site, S.SUBMITTED)
    before = _written()

    with pytest.raises(Invalid) as err:
        pa_update(actor=technician, prior_auth=pa, status=S.APPROVED)

    assert {e["field"] for e in err.value.errors} == {"number", "approved_from", "approved_to"}
    assert _written() == before
    pa.refresh_from_db()
    assert pa.status == S.SUBMITTED


def test_an_approval_ending_before_it_starts_is_refused(site, technician):
    pa = case(site, S.SUBMITTED)

    with pytest.raises(Invalid) as err:
        pa_update(
            actor=technician,
            prior_auth=pa,
            status=S.APPROVED,
            number="123",
            approved_from=_days(10, site),
            approved_to=_days(9, site),
        )

    assert [e["field"] for e in err.value.errors] == ["approved_to"]
    pa.refresh_from_db()
    assert pa.status == S.SUBMITTED


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("123456789012", "at most 11"),
        ("PA-123", "letters and digits"),
        ("   ", "Type the PA number"),
    ],
)
def test_a_bad_pa_number_is_refused(site, technician, number, message):
    pa = case(site, S.SUBMITTED)

    with pytest.raises(Invalid) as err:
        pa_update(
            actor=technician,
            prior_auth=pa,
            status=S.APPROVED,
            number=number,
            approved_from=site.today(),
            approved_to=_days(30, site),
        )

    assert err.value.errors[0]["field"] == "number"
    assert message in err.value.errors[0]["message"]


def test_eleven_characters_is_the_longest_number(site, technician):
    pa = case(site, S.SUBMITTED)

    pa = pa_update(
        actor=technician,
        prior_auth=pa,
        status=S.APPROVED,
        number="12345678901",
        approved_from=site.today(),
        approved_to=site.today(),
    )

    assert pa.number == "12345678901"


def test_a_number_on_a_case_not_approved_is_refused(site, technician):
    pa = case(site, S.SUBMITTED)

    with pytest.raises(Invalid) as err:
        pa_update(actor=technician, prior_auth=pa, number="123")

    assert err.value.errors[0]["field"] == "number"


def test_denial_needs_the_plans_reason(site, technician):
    pa = case(site, S.SUBMITTED)
    before = _written()

    with pytest.raises(Invalid) as err:
        pa_update(actor=technician, prior_auth=pa, status=S.DENIED, denied_reason="  ")

    assert [e["field"] for e in err.value.errors] == ["denied_reason"]
    assert _written() == before


def test_denied_appealed_approved(site, technician):
    pa = case(site, S.SUBMITTED)

    pa = pa_update(
        actor=technician, prior_auth=pa, status=S.DENIED, denied_reason="Try metformin first"
    )
    assert (pa.status, pa.denied_reason) == (S.DENIED, "Try metformin first")
    assert pa.closed_at is not None
    pa = pa_update(actor=technician, prior_auth=pa, status=S.APPEALED, note="Chart notes sent")
    assert (pa.status, pa.closed_at) == (S.APPEALED, None)
    pa = pa_update(
        actor=technician,
        prior_auth=pa,
        status=S.APPROVED,
        number="777",
        approved_from=site.today(),
        approved_to=_days(90, site),
    )

    assert pa.status == S.APPROVED
    assert [e.status_to for e in queries_pa.pa_events(pa)] == [
        S.SUBMITTED,
        S.DENIED,
        S.APPEALED,
        S.APPROVED,
    ]


def test_an_appeal_while_another_case_is_open_is_a_conflict(site, technician):
    denied = case(site, S.DENIED)
    case(site, rx=denied.prescription, the_plan=denied.plan)  # a new case, still open

    with pytest.raises(Conflict) as err:
        pa_update(actor=technician, prior_auth=denied, status=S.APPEALED)

    assert err.value.field == "status"
    denied.refresh_from_db()
    assert denied.status == S.DENIED


@pytest.mark.parametrize("status", [S.NEEDED, S.SUBMITTED, S.APPEALED])
def test_any_open_case_can_be_abandoned(site, technician, status):
    pa = case(site, status)

    pa = pa_update(actor=technician, prior_auth=pa, status=S.ABANDONED, note="Patient paid cash")

    assert pa.status == S.ABANDONED
    assert pa.closed_at is not None


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (S.NEEDED, S.APPROVED),
        (S.NEEDED, S.DENIED),
        (S.NEEDED, S.APPEALED),
        (S.SUBMITTED, S.NEEDED),
        (S.SUBMITTED, S.APPEALED),
        (S.DENIED, S.APPROVED),
        (S.DENIED, S.ABANDONED),
        (S.APPROVED, S.SUBMITTED),
        (S.APPROVED, S.DENIED),
        (S.APPEALED, S.SUBMITTED),
        (S.ABANDONED, S.NEEDED),
        (S.ABANDONED, S.SUBMITTED),
    ],
)
def test_a_step_the_rules_do_not_allow_is_a_conflict(site, technician, start, to):
    pa = case(site, start)
    before = _written()

    with pytest.raises(Conflict) as err:
        pa_update(
            actor=technician,
            prior_auth=pa,
            status=to,
            number="1",
            approved_from=site.today(),
            approved_to=site.today(),
            denied_reason="x",
        )

    assert err.value.field == "status"
    assert _written() == before


def test_an_unknown_status_is_invalid(site, technician):
    pa = case(site)

    with pytest.raises(Invalid) as err:
        pa_update(actor=technician, prior_auth=pa, status="lost")

    assert err.value.errors[0]["field"] == "status"


def test_an_abandoned_case_takes_no_more_changes(site, technician):
    pa = case(site, S.ABANDONED)

    with pytest.raises(Conflict):
        pa_update(actor=technician, prior_auth=pa, note="one more thing")


def test_an_approved_case_can_have_its_dates_corrected(site, technician):
    pa = case(site, S.APPROVED)

    pa = pa_update(actor=technician, prior_auth=pa, approved_to=_days(30, site))

    assert pa.approved_to == _days(30, site)
    assert queries_pa.pa_events(pa)[-1].note == "Changed: approval end."


def test_a_follow_up_date_in_the_past_is_refused(site, technician):
    pa = case(site)
    before = _written()

    with pytest.raises(Invalid) as err:
        pa_update(actor=technician, prior_auth=pa, follow_up_on=_days(-1, site))

    assert err.value.errors == [
        {"field": "follow_up_on", "message": "A follow-up date is today or later."}
    ]
    assert _written() == before


def test_a_follow_up_today_is_fine(site, technician):
    pa = case(site)

    pa = pa_update(actor=technician, prior_auth=pa, follow_up_on=site.today())

    assert pa.follow_up_on == site.today()


def test_every_bad_field_is_named_at_once(site, technician):
    pa = case(site)

    with pytest.raises(Invalid) as err:
        pa_update(
            actor=technician,
            prior_auth=pa,
            status="nope",
            number="!!",
            follow_up_on=_days(-3, site),
            denied_reason="x" * 301,
        )

    assert [e["field"] for e in err.value.errors] == [
        "status",
        "number",
        "denied_reason",
        "follow_up_on",
    ]


def test_no_change_writes_nothing(site, technician):
    pa = case(site, S.SUBMITTED)
    before = _written()

    again = pa_update(actor=technician, prior_auth=pa, status=S.SUBMITTED)

    assert again.status == S.SUBMITTED
    assert _written() == before


def test_a_note_alone_goes_in_the_history(site, technician):
    pa = case(site, S.SUBMITTED)

    pa_update(actor=technician, prior_auth=pa, note="Called the plan: 3 more days")

    last = queries_pa.pa_events(pa)[-1]
    assert (last.status_from, last.status_to, last.note) == (
        S.SUBMITTED,
        S.SUBMITTED,
        "Called the plan: 3 more days",
    )
    assert last_event().action == "claims.pa.updated"


@pytest.mark.parametrize("who", ["trainee", "auditor", "admin_user"])
def test_roles_without_claims_bill_cannot_update(request, site, who):
    pa = case(site)
    before = _written()

    with pytest.raises(Forbidden):
        pa_update(actor=request.getfixturevalue(who), prior_auth=pa, status=S.SUBMITTED)

    assert _written() == before


def test_another_pharmacys_case_does_not_exist_for_updates(site, outsider):
    pa = case(site)

    with pytest.raises(NotFound):
        pa_update(actor=outsider, prior_auth=pa, status=S.SUBMITTED)

    pa.refresh_from_db()
    assert pa.status == S.NEEDED


# --- documents --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "declared", "kept"),
    [
        (PDF, "application/pdf", "application/pdf"),
        (PNG, "image/png", "image/png"),
        (JPEG, "image/jpeg", "image/jpeg"),
        (JPEG, "image/jpg", "image/jpeg"),
        (TIFF, "image/tiff", "image/tiff"),
        (b"MM\x00*" + b"\x00" * 10, "image/tiff", "image/tiff"),
        (PDF, "application/pdf; charset=binary", "application/pdf"),
    ],
)
def test_it_keeps_a_document_with_its_hash(site, technician, data, declared, kept):
    pa = case(site, S.SUBMITTED)

    doc = pa_document_add(
        actor=technician, prior_auth=pa, name="PA form.pdf", content_type=declared, data=data
    )

    doc.refresh_from_db()
    assert (doc.name, doc.content_type, bytes(doc.data), doc.size, doc.sha256) == (
        "PA form.pdf",
        kept,
        data,
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert queries_pa.pa_events(pa)[-1].note == "Document added: PA form.pdf."
    event = last_event()
    assert event.action == "claims.pa.document_added"
    assert f'"sha256":"{doc.sha256}"' in event.data


def test_a_path_in_the_file_name_is_dropped(site, technician):
    doc = pa_document_add(
        actor=technician,
        prior_auth=case(site),
        name="C:\\Users\\tech\\..\\letter.pdf",
        content_type="application/pdf",
        data=PDF,
    )

    assert doc.name == "letter.pdf"


@pytest.mark.parametrize(
    ("data", "declared", "field", "message"),
    [
        (PNG, "application/pdf", "file", "not really a PDF"),
        (b"MZ\x90\x00 an exe", "application/pdf", "file", "not really a PDF"),
        (PDF, "text/plain", "file", "Upload a PDF, PNG, JPEG or TIFF file."),
        (b"GIF89a...", "image/gif", "file", "Upload a PDF, PNG, JPEG or TIFF file."),
        (b"", "application/pdf", "file", "The file is empty."),
        (PDF + b"\x00" * MAX_DOCUMENT_BYTES, "application/pdf", "file", "larger than 5 MB"),
    ],
)
def test_a_file_that_is_not_an_allowed_document_is_refused(
    site, technician, data, declared, field, message
):
    pa = case(site)
    before = _written()

    with pytest.raises(Invalid) as err:
        pa_document_add(
            actor=technician, prior_auth=pa, name="x.pdf", content_type=declared, data=data
        )

    assert err.value.errors[0]["field"] == field
    assert message in err.value.errors[0]["message"]
    assert _written() == before


def test_exactly_5_mib_is_accepted(site, technician):
    data = PDF + b"\x00" * (MAX_DOCUMENT_BYTES - len(PDF))

    doc = pa_document_add(
        actor=technician,
        prior_auth=case(site),
        name="big.pdf",
        content_type="application/pdf",
        data=data,
    )

    assert doc.size == MAX_DOCUMENT_BYTES


def test_a_document_needs_a_name(site, technician):
    with pytest.raises(Invalid) as err:
        pa_document_add(
            actor=technician, prior_auth=case(site), name=" / ", content_type="image/png", data=PNG
        )

    assert err.value.errors[0]["field"] == "name"


@pytest.mark.parametrize("who", ["trainee", "auditor"])
def test_roles_without_claims_bill_cannot_add_documents(request, site, who):
    pa = case(site)
    before = _written()

    with pytest.raises(Forbidden):
        pa_document_add(
            actor=request.getfixturevalue(who),
            prior_auth=pa,
            name="x.pdf",
            content_type="application/pdf",
            data=PDF,
        )

    assert _written() == before


def test_reading_a_document_is_logged_as_phi_access(site, pharmacist):
    doc = document(case(site))

    read = pa_document_read(actor=pharmacist, document=doc)

    assert bytes(read.data) == PDF
    event = last_event()
    assert (event.action, event.actor, event.patient_id) == (
        "claims.pa.document_viewed",
        pharmacist,
        doc.prior_auth.prescription.patient_id,
    )


def test_another_pharmacys_document_does_not_exist(site, outsider):
    doc = document(case(site))
    before = _written()

    with pytest.raises(NotFound):
        pa_document_read(actor=outsider, document=doc)

    assert _written() == before


def test_the_auditor_cannot_read_pa_documents(site, auditor):
    doc = document(case(site))
    before = _written()

    with pytest.raises(Forbidden):
        pa_document_read(actor=auditor, document=doc)

    assert _written() == before


# --- the approval in effect -------------------------------------------------------------------


def test_the_approval_in_effect_covers_its_dates_inclusive(site):
    pa = case(site, S.APPROVED, approved_from=_days(0, site), approved_to=_days(30, site))
    rx, plan_id = pa.prescription_id, pa.plan_id

    assert queries_pa.pa_in_effect(rx, plan_id, _days(0, site)) == pa
    assert queries_pa.pa_in_effect(rx, plan_id, _days(30, site)) == pa
    assert queries_pa.pa_in_effect(rx, plan_id, _days(-1, site)) is None
    assert queries_pa.pa_in_effect(rx, plan_id, _days(31, site)) is None


def test_only_an_approved_case_of_that_plan_is_in_effect(site):
    pa = case(site, S.APPROVED)
    other = plan(bin="004336", pcn="ADV", name="Other Plan")
    today = site.today()

    assert queries_pa.pa_in_effect(pa.prescription_id, other.pk, today) is None
    assert queries_pa.pa_in_effect(prescription(site).pk, pa.plan_id, today) is None
    PriorAuth.objects.filter(pk=pa.pk).update(status=S.ABANDONED)
    assert queries_pa.pa_in_effect(pa.prescription_id, pa.plan_id, today) is None


def test_of_two_approvals_the_latest_ending_is_in_effect(site):
    old = case(site, S.APPROVED, approved_to=_days(10, site))
    new = case(
        site, S.APPROVED, rx=old.prescription, the_plan=old.plan, approved_to=_days(40, site)
    )

    assert queries_pa.pa_in_effect(old.prescription_id, old.plan_id, site.today()) == new


# --- the queue --------------------------------------------------------------------------------


def test_the_queue_puts_follow_ups_due_first_then_the_rest_oldest_first(
    site, technician, outsider, django_assert_num_queries
):
    later = case(site, S.SUBMITTED, follow_up_on=_days(5, site))
    none_old = case(site)
    overdue = case(site, S.SUBMITTED, follow_up_on=_days(-2, site))
    due = case(site, S.APPEALED, follow_up_on=_days(0, site))
    none_new = case(site)
    case(site, S.APPROVED)
    case(site, S.ABANDONED)
    case(outsider.site, S.NEEDED)

    with django_assert_num_queries(1):
        queue = queries_pa.pa_queue(actor=technician)
        [(p.prescription.patient.last_name, p.plan.payer.name) for p in queue]

    assert queue == [overdue, due, later, none_old, none_new]
    today = site.today()
    assert [queries_pa.follow_up(p, today) for p in queue] == ["overdue", "due", "", "", ""]


def test_the_queue_with_closed_cases_lists_them_after_the_open_ones(site, technician):
    open_case = case(site)
    approved = case(site, S.APPROVED)
    abandoned = case(site, S.ABANDONED)
    PriorAuth.objects.filter(pk=approved.pk).update(closed_at=approved.opened_at)
    PriorAuth.objects.filter(pk=abandoned.pk).update(
        closed_at=approved.opened_at + dt.timedelta(hours=1)
    )

    queue = queries_pa.pa_queue(actor=technician, include_closed=True)

    assert queue == [open_case, abandoned, approved]


def test_the_queue_is_not_for_the_auditor(site, auditor):
    with pytest.raises(Forbidden):
        queries_pa.pa_queue(actor=auditor)


def test_a_case_of_another_pharmacy_is_not_found(site, outsider):
    pa = case(site)

    with pytest.raises(NotFound):
        queries_pa.pa_get(actor=outsider, pa_id=pa.pk)


def test_a_document_of_another_case_is_not_found(site, technician):
    doc = document(case(site))

    with pytest.raises(NotFound):
        queries_pa.pa_document_get(actor=technician, prior_auth=case(site), document_id=doc.pk)
