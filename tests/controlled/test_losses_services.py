"""Theft or significant loss (DEA Form 106) through the services: the deadlines from the
discovery's local date at their edges, the details and their rules, the DEA notice (late
is recorded, not refused), the submission refused until the form is complete, the list's
deadline words, and the draft PDF read back with pypdf."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from pypdf import PdfReader

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import PackagePrice
from rxdesk.controlled import documents_106
from rxdesk.controlled.models import TheftLoss, TheftLossLine
from rxdesk.controlled.queries_audits import deadline_state, loss_get, losses
from rxdesk.controlled.services_losses import (
    police_answered,
    theft_loss_cancel,
    theft_loss_notified,
    theft_loss_open,
    theft_loss_submitted,
    theft_loss_update,
)
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.models import StockMove
from tests.conftest import last_event
from tests.controlled.factories import alprazolam, codeine_syrup, cs_stock, oxycodone, witness
from tests.inventory.factories import package

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHICAGO)


def written() -> tuple[int, int, int, int]:
    return (
        TheftLoss.objects.count(),
        TheftLossLine.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.count(),
    )


def robbery(actor, discovered_at=None, **details) -> TheftLoss:
    oxycodone()
    return theft_loss_open(
        actor=actor,
        loss_type=details.pop("loss_type", "armed_robbery"),
        discovered_at=discovered_at or dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=1),
        lines=details.pop("lines", [{"ndc": "0406-0552-01", "quantity": "100"}]),
        **details,
    )


def complete(actor, loss: TheftLoss, when: dt.datetime | None = None) -> TheftLoss:
    loss = theft_loss_update(
        actor=actor, loss=loss, police_notified=True, police_department="Springfield PD"
    )
    return theft_loss_notified(
        actor=actor,
        loss=loss,
        when=when or loss.discovered_at + dt.timedelta(hours=1),
        how="Email to the field division",
    )


# --- Opening and the deadlines ---------------------------------------------------------------


def test_a_robbery_found_at_opening_is_recorded_with_its_deadlines(site, pharmacist):
    cs_stock(site, oxycodone(), 200, lot="OX1")
    cs_stock(site, codeine_syrup(), 473, lot="CS1")
    moves = StockMove.objects.count()
    # Friday 11/14/2025, 07:45 at the pharmacy: notice by Monday, Form 106 by 12/29.
    with time_machine.travel(local(2025, 11, 14, 9, 0)):
        loss = theft_loss_open(
            actor=pharmacist,
            loss_type="armed_robbery",
            discovered_at=dt.datetime(2025, 11, 14, 7, 45),  # naive: the pharmacy's time
            lines=[
                {"ndc": "0406-0552-01", "lot_number": "ox1", "quantity": "200"},
                {"ndc": "0603-1585-58", "quantity": "236.5", "estimated_value": "41.00"},
            ],
            police_notified=True,
            police_department="Springfield PD",
            police_report_number="25-8812",
        )

    assert loss.discovered_at == local(2025, 11, 14, 7, 45)
    assert (loss.notify_by, loss.complete_by) == (dt.date(2025, 11, 17), dt.date(2025, 12, 29))
    assert (loss.status, loss.opened_by, loss.investigation) == ("draft", pharmacist, None)
    first, second = loss.lines.order_by("id")
    assert (first.lot.number, first.quantity, first.estimated_value) == (
        "OX1",
        Decimal(200),
        None,
    )
    assert (second.package, second.lot, second.quantity) == (
        codeine_syrup(),
        None,
        Decimal("236.5"),
    )
    assert second.estimated_value == Decimal("41.00")
    assert police_answered(loss) is True
    assert StockMove.objects.count() == moves  # the count and its investigation correct it
    event = last_event()
    assert (event.action, event.object_id) == ("cs.loss.opened", str(loss.pk))
    assert '"notify_by":"2025-11-17"' in event.data


@pytest.mark.parametrize(
    ("discovered", "notify_by", "complete_by"),
    [
        # A Friday: the next business day is Monday.
        (local(2025, 11, 14, 16, 0), dt.date(2025, 11, 17), dt.date(2025, 12, 29)),
        # The Wednesday before Thanksgiving (11/26/2026): Thursday is a federal holiday.
        (local(2026, 11, 25, 10, 0), dt.date(2026, 11, 27), dt.date(2027, 1, 9)),
        # Late Thursday evening in Chicago is already Friday in UTC: the local date counts.
        (local(2025, 11, 13, 23, 30), dt.date(2025, 11, 14), dt.date(2025, 12, 28)),
        # Christmas Eve 2025 (a Wednesday): the 25th is a holiday.
        (local(2025, 12, 24, 8, 0), dt.date(2025, 12, 26), dt.date(2026, 2, 7)),
    ],
)
def test_the_deadlines_run_from_the_discoverys_local_date(
    site, pharmacist, discovered, notify_by, complete_by
):
    with time_machine.travel(discovered + dt.timedelta(hours=1)):
        loss = robbery(pharmacist, discovered_at=discovered.astimezone(dt.UTC))
    assert (loss.notify_by, loss.complete_by) == (notify_by, complete_by)


def test_a_discovery_in_the_future_or_without_time_is_refused(site, pharmacist):
    before = written()
    with pytest.raises(Invalid) as caught:
        robbery(pharmacist, discovered_at=dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=1))
    assert caught.value.errors == [
        {"field": "discovered_at", "message": "The discovery cannot be in the future."}
    ]
    with pytest.raises(Invalid) as dated:
        robbery(pharmacist, discovered_at=dt.date(2025, 1, 2))
    assert dated.value.field == "discovered_at"
    assert written() == before


@pytest.mark.parametrize(
    ("lines", "field", "message"),
    [
        ([], "lines", "List each product lost: NDC and quantity."),
        ([{"ndc": "0002-3227-30", "quantity": "1"}], "lines.0.ndc", "not a controlled"),
        ([{"ndc": "0406-0552-01", "quantity": "0"}], "lines.0.quantity", "more than zero"),
        ([{"ndc": "0406-0552-01", "quantity": "1.0001"}], "lines.0.quantity", "three decimal"),
        (
            [{"ndc": "0406-0552-01", "quantity": "1"}, {"ndc": "0406-0552-01", "lot_number": "Z"}],
            "lines.1.lot_number",
            "No lot Z",
        ),
        (
            [{"ndc": "0406-0552-01", "quantity": "1", "estimated_value": "1.005"}],
            "lines.0.estimated_value",
            "two decimal places",
        ),
    ],
)
def test_bad_lines_name_the_field_and_change_nothing(site, pharmacist, lines, field, message):
    package()
    oxycodone()
    before = written()
    with pytest.raises(Invalid) as caught:
        robbery(pharmacist, lines=lines)
    assert any(e["field"] == field and message in e["message"] for e in caught.value.errors)
    assert written() == before


def test_bad_details_are_all_named_at_once(site, pharmacist):
    before = written()
    with pytest.raises(Invalid) as caught:
        robbery(
            pharmacist,
            loss_type="flood",
            previous_losses=-2,
            police_notified="maybe",
            occurred_on="yesterday",
        )
    assert [e["field"] for e in caught.value.errors] == [
        "loss_type",
        "occurred_on",
        "police_notified",
        "previous_losses",
    ]
    assert written() == before


def test_other_needs_its_text_and_the_police_their_department(site, pharmacist):
    with pytest.raises(Invalid) as caught:
        robbery(pharmacist, loss_type="other", police_notified=True)
    assert [e["field"] for e in caught.value.errors] == ["loss_type_other", "police_department"]
    loss = robbery(pharmacist, loss_type="other", loss_type_other="Vault left unlocked")
    assert loss.loss_type_other == "Vault left unlocked"


def test_the_loss_cannot_be_after_its_discovery(site, pharmacist):
    discovered = dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=3)
    with pytest.raises(Invalid) as caught:
        robbery(pharmacist, discovered_at=discovered, occurred_on=site.today())
    assert caught.value.field == "occurred_on"


def test_the_estimated_value_comes_from_the_acquisition_cost(site, pharmacist):
    oxycodone()
    PackagePrice.objects.create(
        package=oxycodone(),
        kind=PriceKind.ACQUISITION,
        amount=Decimal("42.00"),
        effective_on=dt.date(2024, 1, 1),
    )
    loss = robbery(pharmacist, lines=[{"ndc": "0406-0552-01", "quantity": "37"}])
    assert loss.lines.get().estimated_value == Decimal("15.54")  # 37 of 100 at $42


@pytest.mark.parametrize("role", ["technician", "inventory", "auditor", "trainee", "admin_user"])
def test_only_a_pharmacist_opens_a_record(site, request, role):
    oxycodone()
    before = written()
    with pytest.raises(Forbidden):
        robbery(request.getfixturevalue(role))
    assert written() == before


# --- Working the record -----------------------------------------------------------------------


def test_the_details_are_completed_and_the_police_question_answered(site, pharmacist):
    loss = robbery(pharmacist)
    assert police_answered(loss) is None

    answered = theft_loss_update(actor=pharmacist, loss=loss, police_notified=False)
    assert (police_answered(answered), answered.police_department) == (False, "")
    changed = theft_loss_update(
        actor=pharmacist,
        loss=loss,
        police_notified=True,
        police_department="County Sheriff",
        police_report_number="S-11",
        previous_losses=2,
        security_measures="Vault re-keyed; camera added.",
        narrative="Two men at opening.",
    )

    assert police_answered(changed) is True
    assert (changed.police_department, changed.previous_losses) == ("County Sheriff", 2)
    event = last_event()
    assert event.action == "cs.loss.updated"
    assert '"narrative"' in event.data and "Two men" not in event.data


def test_an_update_with_nothing_new_writes_nothing(site, pharmacist):
    loss = robbery(pharmacist, previous_losses=1)
    before = written()
    theft_loss_update(actor=pharmacist, loss=loss, previous_losses=1, narrative=None)
    assert written() == before


def test_an_update_of_a_bad_field_changes_nothing(site, pharmacist):
    loss = robbery(pharmacist)
    before = written()
    with pytest.raises(Invalid) as caught:
        theft_loss_update(actor=pharmacist, loss=loss, loss_type="other")
    assert caught.value.field == "loss_type_other"
    with pytest.raises(Invalid) as unknown:
        theft_loss_update(actor=pharmacist, loss=loss, status="submitted")
    assert unknown.value.field == "status"
    assert written() == before
    loss.refresh_from_db()
    assert loss.loss_type == "armed_robbery"


def test_the_notice_is_recorded_and_a_late_one_marked_late(site, pharmacist):
    with time_machine.travel(local(2025, 11, 14, 9, 0)):
        on_time = robbery(pharmacist, discovered_at=local(2025, 11, 14, 8, 0))
        late = robbery(pharmacist, discovered_at=local(2025, 11, 14, 8, 30))
    with time_machine.travel(local(2025, 11, 17, 16, 0)):
        notified = theft_loss_notified(
            actor=pharmacist, loss=on_time, when=local(2025, 11, 17, 15, 0), how="Email"
        )
    with time_machine.travel(local(2025, 11, 18, 9, 0)):
        after = theft_loss_notified(
            actor=pharmacist, loss=late, when=dt.datetime(2025, 11, 18, 8, 55), how="Fax"
        )

    assert (notified.status, notified.dea_notified_how) == ("notified", "Email")
    assert (
        '"late":false'
        in AuditEvent.objects.filter(action="cs.loss.notified", object_id=str(on_time.pk))
        .get()
        .data
    )
    assert after.dea_notified_at == local(2025, 11, 18, 8, 55)
    assert '"late":true' in last_event().data
    row = next(r for r in losses(actor=pharmacist) if r.loss.pk == late.pk)
    assert row.notice_late is True


def test_the_notice_is_refused_before_the_discovery_in_the_future_or_twice(site, pharmacist):
    loss = robbery(pharmacist)
    before = written()
    with pytest.raises(Invalid) as early:
        theft_loss_notified(
            actor=pharmacist, loss=loss, when=loss.discovered_at - dt.timedelta(minutes=1), how="x"
        )
    assert early.value.field == "when"
    with pytest.raises(Invalid) as future:
        theft_loss_notified(
            actor=pharmacist,
            loss=loss,
            when=dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=1),
            how="",
        )
    assert [e["field"] for e in future.value.errors] == ["when", "how"]
    assert written() == before
    theft_loss_notified(actor=pharmacist, loss=loss, when=loss.discovered_at, how="Email")
    with pytest.raises(Conflict):
        theft_loss_notified(actor=pharmacist, loss=loss, when=loss.discovered_at, how="Again")


def test_the_submission_names_every_missing_field(site, pharmacist):
    loss = robbery(pharmacist, loss_type="other", loss_type_other="x")
    TheftLoss.objects.filter(pk=loss.pk).update(loss_type_other="")
    before = written()

    with pytest.raises(Invalid) as caught:
        theft_loss_submitted(actor=pharmacist, loss=loss, dea_reference="")

    assert [e["field"] for e in caught.value.errors] == [
        "loss_type_other",
        "police_notified",
        "dea_notified_at",
        "dea_reference",
    ]
    assert written() == before


def test_a_complete_form_is_submitted_with_its_reference(site, pharmacist):
    loss = complete(pharmacist, robbery(pharmacist))

    submitted = theft_loss_submitted(actor=pharmacist, loss=loss, dea_reference=" TLR-77 ")

    assert (submitted.status, submitted.dea_reference) == ("submitted", "TLR-77")
    assert submitted.submitted_at is not None
    event = last_event()
    assert (event.action, event.object_id) == ("cs.loss.submitted", str(loss.pk))
    before = written()
    with pytest.raises(Conflict):
        theft_loss_update(actor=pharmacist, loss=loss, narrative="after")
    with pytest.raises(Conflict):
        theft_loss_cancel(actor=pharmacist, loss=loss, reason="x")
    assert written() == before


def test_the_45th_day_is_on_time_and_the_46th_late(site, pharmacist):
    with time_machine.travel(local(2026, 1, 5, 11, 0)):
        first = complete(pharmacist, robbery(pharmacist, discovered_at=local(2026, 1, 5, 9, 0)))
        second = complete(pharmacist, robbery(pharmacist, discovered_at=local(2026, 1, 5, 9, 5)))
    assert first.complete_by == dt.date(2026, 2, 19)
    with time_machine.travel(local(2026, 2, 19, 23, 50)):
        assert deadline_state(loss_get(actor=pharmacist, loss_id=first.pk), site.today()).text == (
            "submit Form 106 by Thu 02/19 (today)"
        )
        on_time = theft_loss_submitted(actor=pharmacist, loss=first, dea_reference="A1")
        assert '"late":false' in last_event().data
    with time_machine.travel(local(2026, 2, 20, 0, 10)):
        state = deadline_state(loss_get(actor=pharmacist, loss_id=second.pk), site.today())
        assert (state.text, state.level) == ("OVERDUE: Form 106 was due 02/19", "overdue")
        late = theft_loss_submitted(actor=pharmacist, loss=second, dea_reference="A2")
        assert '"late":true' in last_event().data
        rows = {r.loss.pk: r for r in losses(actor=pharmacist)}
    assert rows[on_time.pk].deadline.text == "Form 106 submitted 02/19/2026"
    assert rows[late.pk].deadline.text == "Form 106 submitted 02/20/2026 (LATE: was due 02/19)"


def test_the_deadline_words(site, pharmacist):
    # Friday 11/27/2026 (after Thanksgiving): notice by Monday 11/30.
    with time_machine.travel(local(2026, 11, 27, 10, 0)):
        loss = robbery(pharmacist, discovered_at=local(2026, 11, 27, 9, 0))
        assert deadline_state(loss, site.today()).text == "notify DEA by Mon 11/30 (in 3 days)"
    with time_machine.travel(local(2026, 11, 29, 10, 0)):
        state = deadline_state(loss, site.today())
        assert (state.text, state.level) == ("notify DEA by Mon 11/30 (tomorrow)", "due")
    with time_machine.travel(local(2026, 11, 30, 18, 0)):
        assert deadline_state(loss, site.today()).text == "notify DEA by Mon 11/30 (today)"
    with time_machine.travel(local(2026, 12, 1, 8, 0)):
        state = deadline_state(loss, site.today())
        assert (state.text, state.level) == ("OVERDUE: DEA notice was due 11/30", "overdue")
        notified = complete(pharmacist, loss, when=local(2026, 12, 1, 7, 59))
        assert deadline_state(notified, site.today()).text == (
            "submit Form 106 by Mon 01/11 (in 41 days)"
        )


def test_the_list_puts_the_most_urgent_first(site, pharmacist):
    with time_machine.travel(local(2026, 3, 2, 9, 0)):
        old = robbery(pharmacist, discovered_at=local(2026, 2, 20, 9, 0))
        new = robbery(pharmacist, discovered_at=local(2026, 3, 2, 8, 0))
        done = complete(pharmacist, robbery(pharmacist, discovered_at=local(2026, 3, 1, 8, 0)))
        cancelled = theft_loss_cancel(
            actor=pharmacist,
            loss=robbery(pharmacist, discovered_at=local(2026, 3, 2, 7, 0)),
            reason="Found in the returns tote",
        )
        rows = losses(actor=pharmacist)
        open_rows = losses(actor=pharmacist, open_only=True)
    assert [r.loss.pk for r in rows] == [old.pk, new.pk, done.pk, cancelled.pk]
    assert [r.deadline.level for r in rows] == ["overdue", "due", "ok", "done"]
    assert cancelled.pk not in [r.loss.pk for r in open_rows]
    assert "Cancelled 03/02/2026: Found in the returns tote" in cancelled.narrative


def test_cancel_needs_a_reason(site, pharmacist):
    loss = robbery(pharmacist)
    before = written()
    with pytest.raises(Invalid) as caught:
        theft_loss_cancel(actor=pharmacist, loss=loss, reason=" ")
    assert caught.value.field == "reason"
    assert written() == before


@pytest.mark.parametrize("role", ["technician", "auditor"])
def test_only_a_pharmacist_works_a_record(site, request, pharmacist, role):
    loss = robbery(pharmacist)
    other = request.getfixturevalue(role)
    before = written()
    for act in (
        lambda: theft_loss_update(actor=other, loss=loss, narrative="x"),
        lambda: theft_loss_notified(actor=other, loss=loss, when=loss.discovered_at, how="x"),
        lambda: theft_loss_submitted(actor=other, loss=loss, dea_reference="x"),
        lambda: theft_loss_cancel(actor=other, loss=loss, reason="x"),
    ):
        with pytest.raises(Forbidden):
            act()
    assert written() == before


def test_another_pharmacys_record_is_not_found(site, other_site, pharmacist):
    loss = robbery(pharmacist)
    stranger = witness(other_site, Role.PHARMACIST, "stranger")
    with pytest.raises(NotFound):
        theft_loss_update(actor=stranger, loss=loss, narrative="x")
    with pytest.raises(NotFound):
        loss_get(actor=stranger, loss_id=loss.pk)


# --- The draft PDF --------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    """The PDF's text with its line breaks as spaces (table cells wrap)."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.split())


def test_the_draft_pdf_carries_the_form_106_content(site, pharmacist):
    site.address_line1 = "12 Main Street"
    site.city = "Springfield"
    site.postal_code = "62701"
    site.phone = "2175551100"
    site.dea_number = "BR1234563"
    site.save()
    alprazolam()
    with time_machine.travel(local(2025, 11, 14, 9, 0)):
        loss = robbery(
            pharmacist,
            discovered_at=local(2025, 11, 14, 7, 45),
            occurred_on=dt.date(2025, 11, 13),
            police_notified=True,
            police_department="Springfield PD",
            police_report_number="25-8812",
            previous_losses=1,
            security_measures="Alarm code changed",
            narrative="The back door was forced overnight.",
            lines=[
                {"ndc": "0406-0552-01", "quantity": "100", "estimated_value": "42.00"},
                {"ndc": "0228-2029-96", "quantity": "1000", "estimated_value": "18.50"},
            ],
        )
        data = documents_106.form_106_pdf(
            loss_get(actor=pharmacist, loss_id=loss.pk), now=dt.datetime.now(tz=dt.UTC)
        )

    text = pdf_text(data)
    assert data.startswith(b"%PDF-")
    for expected in (
        "DRAFT",
        "Riverside Test Pharmacy",
        "12 Main Street",
        "Springfield, IL 62701",
        "BR1234563",
        "(217) 555-1100",
        "Armed robbery",
        "11/13/2025",
        "11/14/2025 07:45",
        "11/17/2025",
        "12/29/2025",
        "Yes — Springfield PD — report no. 25-8812",
        "0406-0552-01",
        "Oxycodone Hydrochloride",
        "5 mg/1",
        "TABLET",
        "100 EA",
        "$42.00",
        "0228-2029-96",
        "Alprazolam",
        "1000 EA",
        "$18.50",
        "$60.50",
        "Alarm code changed",
        "The back door was forced overnight.",
        "NOT RECORDED YET",
    ):
        assert expected in text, expected
    assert "Previous thefts or losses" in text


def test_the_submitted_copy_shows_the_reference_and_no_draft_mark(site, pharmacist):
    loss = complete(pharmacist, robbery(pharmacist))
    theft_loss_submitted(actor=pharmacist, loss=loss, dea_reference="TLR-2025-0042")

    data = documents_106.form_106_pdf(
        loss_get(actor=pharmacist, loss_id=loss.pk), now=dt.datetime.now(tz=dt.UTC)
    )

    text = pdf_text(data)
    assert "DEA reference TLR-2025-0042" in text
    assert "DRAFT" not in text
    assert "Email to the field division" in text


def test_text_that_cannot_be_stored_is_refused(site, pharmacist):
    loss = robbery(pharmacist)
    before = written()
    with pytest.raises(Invalid) as caught:
        theft_loss_update(actor=pharmacist, loss=loss, narrative="forced\x00door")
    assert caught.value.field == "narrative"
    assert written() == before
