"""Blind audit counts and the investigation of a discrepancy, through the services: the
count against the perpetual balance, the investigation it opens, notes and evidence, each
outcome (with the witnessed count correction on the ledger), and the witness's rules."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxdesk.controlled.models import (
    CsAudit,
    Investigation,
    InvestigationEvidence,
    InvestigationNote,
    TheftLoss,
    TheftLossLine,
)
from rxdesk.controlled.rules import form_106_deadlines
from rxdesk.controlled.services_audits import (
    MAX_EVIDENCE_BYTES,
    cs_audit_record,
    investigation_evidence_add,
    investigation_note_add,
    investigation_resolve,
)
from rxdesk.controlled.services_losses import theft_loss_open
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.inventory.services.stock import stock_dispense
from tests.conftest import audit_count, last_event
from tests.controlled.factories import (
    alprazolam,
    codeine_syrup,
    credentials,
    cs_stock,
    oxycodone,
    witness,
)
from tests.inventory.factories import package, stock

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def written() -> tuple[int, ...]:
    return (
        CsAudit.objects.count(),
        Investigation.objects.count(),
        InvestigationNote.objects.count(),
        InvestigationEvidence.objects.count(),
        TheftLoss.objects.count(),
        TheftLossLine.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action="auth.witness_failed").count(),
    )


def short(site, technician, *, on_hand=137, count=130, lot="OX1") -> Investigation:
    cs_stock(site, oxycodone(), on_hand, lot=lot)
    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number=lot, counted=count)
    return Investigation.objects.get(audit=audit)


def on_hand(site, lot="OX1") -> Decimal:
    return StockBalance.objects.get(site=site, lot__number=lot).on_hand


def code_for(device: TOTPDevice) -> str:
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    return f"{token:0{device.digits}d}"


# --- The blind count -------------------------------------------------------------------------


def test_a_count_that_matches_is_matched_and_opens_nothing(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    last = StockMove.objects.latest("id")

    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number="ox1", counted="137")

    assert (audit.counted, audit.expected, audit.variance) == (Decimal(137), Decimal(137), 0)
    assert (audit.status, audit.last_move_id, audit.lot.number) == ("matched", last.pk, "OX1")
    assert (audit.counted_by, audit.counter_name) == (technician, technician.display_name)
    assert Investigation.objects.count() == 0
    event = last_event()
    assert (event.action, event.object_id) == ("cs.audit.counted", str(audit.pk))
    assert '"status":"matched"' in event.data and '"investigation":null' in event.data


def test_a_discrepancy_opens_an_investigation_at_once(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")

    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number="OX1", counted=130)

    assert (audit.status, audit.variance) == ("discrepancy", Decimal(-7))
    inv = Investigation.objects.get()
    assert (inv.audit, inv.status, inv.variance) == (audit, "open", Decimal(-7))
    assert (inv.package, inv.lot, inv.opened_by) == (audit.package, audit.lot, technician)
    assert f'"investigation":{inv.pk}' in last_event().data


def test_a_count_of_every_lot_is_against_the_packages_total(site, technician):
    cs_stock(site, oxycodone(), 100, lot="A1")
    cs_stock(site, oxycodone(), 37, lot="B2")

    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", counted="137.000")

    assert (audit.lot, audit.expected, audit.status) == (None, Decimal(137), "matched")
    assert audit.last_move_id == StockMove.objects.latest("id").pk


def test_the_expected_balance_is_the_one_at_the_count(site, technician):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    stock_dispense(actor=witness(site), ndc=oxycodone(), quantity=30, lot_number="OX1")

    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number="OX1", counted=70)

    assert (audit.expected, audit.status) == (Decimal(70), "matched")


def test_zero_counted_of_an_empty_lot_matches(site, technician):
    cs_stock(site, codeine_syrup(), 473, lot="CS9")
    stock_dispense(actor=witness(site), ndc=codeine_syrup(), quantity=473, lot_number="CS9")
    audit = cs_audit_record(actor=technician, ndc=codeine_syrup(), lot_number="CS9", counted="0")
    assert (audit.expected, audit.status) == (Decimal(0), "matched")


@pytest.mark.parametrize(
    ("ndc", "lot", "count", "field", "message"),
    [
        ("", None, "1", "ndc", "Enter or scan the NDC."),
        ("0002-3227-30", None, "1", "ndc", "NDC 0002-3227-30 is not a controlled substance."),
        ("0406-0552-01", "NOPE", "1", "lot_number", "No lot NOPE of NDC 0406-0552-01 is on file."),
        ("0406-0552-01", None, "-1", "counted", "A count cannot be negative."),
        ("0406-0552-01", None, "1.0005", "counted", "Use at most three decimal places."),
        ("0406-0552-01", None, "", "counted", "Enter the quantity counted (0 if none)."),
        ("0406-0552-01", None, "ten", "counted", "'ten' is not a quantity."),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    site, technician, ndc, lot, count, field, message
):
    package()  # Prozac: not controlled
    cs_stock(site, oxycodone(), 10)
    before = written()

    with pytest.raises(Invalid) as caught:
        cs_audit_record(actor=technician, ndc=ndc, lot_number=lot, counted=count)

    assert {"field": field, "message": message} in caught.value.errors
    assert written() == before


def test_every_bad_field_is_named_at_once(site, technician):
    with pytest.raises(Invalid) as caught:
        cs_audit_record(actor=technician, ndc="", counted="-3", note="x" * 501)
    assert [e["field"] for e in caught.value.errors] == ["ndc", "counted", "note"]


@pytest.mark.parametrize("role", ["trainee", "auditor", "admin_user"])
def test_only_counting_roles_count(site, request, role):
    cs_stock(site, oxycodone(), 10)
    before = written()
    with pytest.raises(Forbidden):
        cs_audit_record(actor=request.getfixturevalue(role), ndc="0406-0552-01", counted=10)
    assert written() == before


def test_the_inventory_specialist_counts(site, inventory):
    cs_stock(site, alprazolam(), 1000, lot="AL1")
    audit = cs_audit_record(actor=inventory, ndc=alprazolam(), lot_number="AL1", counted=1000)
    assert audit.status == "matched"


def test_another_pharmacys_stock_is_not_counted_here(site, other_site, technician):
    cs_stock(other_site, oxycodone(), 50, lot="OX1")
    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number="OX1", counted=0)
    assert (audit.expected, audit.status, audit.site) == (Decimal(0), "matched", site)


# --- Notes and evidence ----------------------------------------------------------------------


def test_notes_are_appended_with_who_and_when(site, technician, pharmacist):
    inv = short(site, technician)

    first = investigation_note_add(actor=pharmacist, investigation=inv, text=" Vault log read. ")
    second = investigation_note_add(actor=pharmacist, investigation=inv, text="Camera checked.")

    assert [n.text for n in inv.notes.order_by("id")] == ["Vault log read.", "Camera checked."]
    assert (first.author, first.author_name) == (pharmacist, pharmacist.display_name)
    assert second.written_at >= first.written_at
    assert last_event().action == "cs.investigation.noted"
    assert "Camera" not in last_event().data  # no free text copied into the audit log


def test_a_blank_note_or_a_technician_is_refused(site, technician, pharmacist):
    inv = short(site, technician)
    before = written()
    with pytest.raises(Invalid) as caught:
        investigation_note_add(actor=pharmacist, investigation=inv, text="  ")
    assert caught.value.field == "text"
    with pytest.raises(Forbidden):
        investigation_note_add(actor=technician, investigation=inv, text="I did it")
    assert written() == before


def test_evidence_is_kept_with_its_sha256(site, technician, pharmacist):
    inv = short(site, technician)

    item = investigation_evidence_add(
        actor=pharmacist,
        investigation=inv,
        name="C:\\scans\\invoice 4471.pdf",
        content_type="application/pdf",
        data=PDF,
        description="Invoice of the last delivery",
    )

    assert (item.name, item.content_type) == ("invoice 4471.pdf", "application/pdf")
    assert bytes(item.content) == PDF
    assert item.sha256 == hashlib.sha256(PDF).hexdigest()
    assert last_event().action == "cs.investigation.evidence_added"
    text = investigation_evidence_add(
        actor=pharmacist,
        investigation=inv,
        name="count.txt",
        content_type="text/plain; charset=utf-8",
        data="Count sheet: 130 tablets — two counters".encode(),
    )
    assert text.content_type == "text/plain"


@pytest.mark.parametrize(
    ("content_type", "data", "message"),
    [
        ("application/pdf", b"", "The file is empty."),
        ("application/pdf", b"%PDF-" + b"0" * MAX_EVIDENCE_BYTES, "The file is larger than 5 MB."),
        ("application/zip", b"PK\x03\x04", "Upload a PDF, PNG, JPEG or plain-text file."),
        (
            "image/png",
            PDF,
            "The file is not really a PNG (its contents do not match its type).",
        ),
        ("text/plain", b"\x00\x01binary", "The file is not plain text."),
    ],
)
def test_evidence_that_is_not_allowed_is_refused_on_field_file(
    site, technician, pharmacist, content_type, data, message
):
    inv = short(site, technician)
    before = written()
    with pytest.raises(Invalid) as caught:
        investigation_evidence_add(
            actor=pharmacist, investigation=inv, name="x", content_type=content_type, data=data
        )
    assert caught.value.errors == [{"field": "file", "message": message}]
    assert written() == before


def test_a_file_of_exactly_5_mb_is_kept(site, technician, pharmacist):
    inv = short(site, technician)
    data = PNG + b"\x00" * (MAX_EVIDENCE_BYTES - len(PNG))
    item = investigation_evidence_add(
        actor=pharmacist, investigation=inv, name="cam.png", content_type="image/png", data=data
    )
    assert len(bytes(item.content)) == MAX_EVIDENCE_BYTES


def test_another_pharmacys_investigation_is_not_found(site, other_site, technician):
    inv = short(site, technician)
    stranger = witness(other_site, Role.PHARMACIST, "stranger")
    with pytest.raises(NotFound):
        investigation_note_add(actor=stranger, investigation=inv, text="peek")
    with pytest.raises(NotFound):
        investigation_resolve(
            actor=stranger, investigation=inv, outcome="record_error", conclusion="x"
        )


# --- Outcomes --------------------------------------------------------------------------------


def test_a_counting_error_needs_a_later_matching_count(site, technician, pharmacist):
    inv = short(site, technician)
    before = written()

    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist, investigation=inv, outcome="counting_error", conclusion="Miscount"
        )
    assert caught.value.field == "outcome"
    assert written() == before

    # A recount that is still short does not do either.
    cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number="OX1", counted=131)
    with pytest.raises(Invalid):
        investigation_resolve(
            actor=pharmacist, investigation=inv, outcome="counting_error", conclusion="Miscount"
        )
    cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number="OX1", counted=137)
    moves = StockMove.objects.count()

    resolved = investigation_resolve(
        actor=pharmacist, investigation=inv, outcome="counting_error", conclusion="Miscount"
    )

    assert (resolved.status, resolved.outcome, resolved.correction) == (
        "resolved",
        "counting_error",
        None,
    )
    assert resolved.witness is None
    assert StockMove.objects.count() == moves
    assert on_hand(site) == Decimal(137)
    assert CsAudit.objects.get(pk=inv.audit_id).status == "resolved"
    assert last_event().action == "cs.investigation.resolved"


def test_a_recount_of_the_whole_package_does_not_clear_a_lots_discrepancy(
    site, technician, pharmacist
):
    inv = short(site, technician)
    cs_audit_record(actor=technician, ndc="0406-0552-01", counted=137)  # every lot: matches
    with pytest.raises(Invalid):
        investigation_resolve(
            actor=pharmacist, investigation=inv, outcome="counting_error", conclusion="x"
        )


@pytest.mark.parametrize(
    ("outcome", "on_hand_", "count", "reason"),
    [
        ("record_error", 137, 130, "data_entry"),
        ("not_significant", 137, 136, "theft_loss"),
        ("found", 137, 140, "found"),
        ("record_error", 137, 140, "data_entry"),
    ],
)
def test_a_correction_is_a_witnessed_count_move_of_the_variance(
    site, technician, pharmacist, outcome, on_hand_, count, reason
):
    inv = short(site, technician, on_hand=on_hand_, count=count)
    second = witness(site, Role.TECHNICIAN, "second")

    resolved = investigation_resolve(
        actor=pharmacist,
        investigation=inv,
        outcome=outcome,
        conclusion="Explained.",
        witness=credentials(second),
    )

    move = resolved.correction
    assert move is not None
    assert (move.reason, move.adjust_reason, move.quantity) == (
        MoveReason.COUNT,
        reason,
        Decimal(count - on_hand_),
    )
    assert (move.reference_type, move.reference_id) == ("cs_investigation", str(inv.pk))
    assert (move.actor, move.witness, move.witness_name) == (pharmacist, second, "second")
    assert (resolved.witness, resolved.witness_name, resolved.witness_factors) == (
        second,
        second.display_name,
        "password",
    )
    assert resolved.witnessed_at is not None
    assert on_hand(site) == Decimal(count)
    assert TheftLoss.objects.count() == 0
    event = last_event()
    assert event.action == "cs.investigation.resolved"
    assert '"witness":"second"' in event.data and f'"move":{move.pk}' in event.data
    assert ledger.ledger_verify() == (StockBalance.objects.count(), [])


def test_theft_corrects_the_balance_and_opens_form_106(site, technician, pharmacist):
    inv = short(site, technician, on_hand=137, count=100)
    audit = inv.audit
    second = witness(site, Role.PHARMACIST, "second")

    resolved = investigation_resolve(
        actor=pharmacist,
        investigation=inv,
        outcome="theft",
        conclusion="Camera shows the bottle taken at closing.",
        witness=credentials(second),
        loss={
            "loss_type": "employee_pilferage",
            "police_notified": True,
            "police_department": "Springfield PD",
            "previous_losses": 0,
            "estimated_value": "84.10",
        },
    )

    assert on_hand(site) == Decimal(100)
    record = TheftLoss.objects.get()
    assert (record.investigation, record.loss_type, record.status) == (
        resolved,
        "employee_pilferage",
        "draft",
    )
    assert record.discovered_at == audit.counted_at
    local_day = audit.counted_at.astimezone(site.tz).date()
    deadlines = form_106_deadlines(local_day)
    assert (record.notify_by, record.complete_by) == (deadlines.notify_by, deadlines.complete_by)
    (line,) = record.lines.all()
    assert (line.package, line.lot, line.quantity, line.estimated_value) == (
        oxycodone(),
        inv.lot,
        Decimal(37),
        Decimal("84.10"),
    )
    actions = list(AuditEvent.objects.order_by("-id").values_list("action", flat=True)[:2])
    assert actions == ["cs.investigation.resolved", "cs.loss.opened"]


def test_a_significant_loss_may_link_the_record_already_opened(site, technician, pharmacist):
    inv = short(site, technician, on_hand=137, count=100)
    robbery = theft_loss_open(
        actor=pharmacist,
        loss_type="armed_robbery",
        discovered_at=dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=1),
        lines=[{"ndc": "0406-0552-01", "quantity": "37"}],
    )

    investigation_resolve(
        actor=pharmacist,
        investigation=inv,
        outcome="significant_loss",
        conclusion="The robbery's stock: the balance is corrected.",
        witness=credentials(witness(site)),
        loss={"loss_id": robbery.pk},
    )

    robbery.refresh_from_db()
    assert (TheftLoss.objects.count(), robbery.investigation_id) == (1, inv.pk)
    assert on_hand(site) == Decimal(100)


def test_form_106_details_are_checked_before_the_witness(site, technician, pharmacist):
    inv = short(site, technician)
    before = written()
    failures = AuditEvent.objects.filter(action="auth.witness_failed").count()

    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="theft",
            conclusion="",
            witness={"username": "second", "password": "wrong"},
            loss={"loss_type": "other", "previous_losses": -1},
        )

    assert [e["field"] for e in caught.value.errors] == [
        "conclusion",
        "loss.previous_losses",
        "loss.loss_type_other",
    ]
    assert written() == before
    assert AuditEvent.objects.filter(action="auth.witness_failed").count() == failures


def test_type_other_needs_its_text(site, technician, pharmacist):
    inv = short(site, technician)
    before = written()
    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="significant_loss",
            conclusion="Unexplained",
            witness=credentials(witness(site)),
            loss={"loss_type": "other"},
        )
    assert caught.value.field == "loss.loss_type_other"
    assert written() == before


@pytest.mark.parametrize(("outcome", "count"), [("theft", 140), ("found", 130)])
def test_an_outcome_against_the_sign_of_the_variance_is_refused(
    site, technician, pharmacist, outcome, count
):
    inv = short(site, technician, count=count)
    before = written()
    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome=outcome,
            conclusion="x",
            witness=credentials(witness(site)),
            loss={"loss_type": "customer_theft"},
        )
    assert caught.value.field == "outcome"
    assert written() == before


def test_a_correction_below_zero_is_refused(site, technician, pharmacist):
    inv = short(site, technician, on_hand=137, count=130)
    # 135 dispensed since the count: 2 left, the 7 short no longer fit.
    stock_dispense(actor=pharmacist, ndc=oxycodone(), quantity=135, lot_number="OX1")
    before = written()

    with pytest.raises(Conflict) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=credentials(witness(site)),
        )

    assert caught.value.field == "variance"
    assert "would take it below zero" in caught.value.message
    assert written() == before
    assert on_hand(site) == Decimal(2)


def test_a_package_count_names_the_lot_to_correct(site, technician, pharmacist):
    cs_stock(site, oxycodone(), 100, lot="A1")
    cs_stock(site, oxycodone(), 37, lot="B2")
    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", counted=130)
    inv = Investigation.objects.get(audit=audit)
    second = credentials(witness(site))

    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=second,
        )
    assert caught.value.field == "lot_number"

    resolved = investigation_resolve(
        actor=pharmacist,
        investigation=inv,
        outcome="record_error",
        conclusion="x",
        witness=second,
        lot_number="b2",
    )
    assert resolved.correction.lot.number == "B2"
    assert (on_hand(site, "A1"), on_hand(site, "B2")) == (Decimal(100), Decimal(30))


def test_a_resolved_investigation_stays_as_it_is(site, technician, pharmacist):
    inv = short(site, technician)
    investigation_resolve(
        actor=pharmacist,
        investigation=inv,
        outcome="record_error",
        conclusion="x",
        witness=credentials(witness(site)),
    )
    inv.refresh_from_db()
    before = written()
    with pytest.raises(Conflict):
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="again",
            witness=credentials(witness(site)),
        )
    with pytest.raises(Conflict):
        investigation_note_add(actor=pharmacist, investigation=inv, text="late note")
    assert written() == before


@pytest.mark.parametrize("role", ["technician", "inventory", "auditor", "trainee"])
def test_only_a_pharmacist_resolves(site, request, technician, role):
    inv = short(site, technician)
    before = written()
    with pytest.raises(Forbidden):
        investigation_resolve(
            actor=request.getfixturevalue(role),
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=credentials(witness(site)),
        )
    assert written() == before


# --- The witness ---------------------------------------------------------------------------


def test_a_correction_without_a_witness_is_refused(site, technician, pharmacist):
    inv = short(site, technician)
    before = written()
    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist, investigation=inv, outcome="record_error", conclusion="x"
        )
    assert caught.value.errors == [
        {"field": "witness.username", "message": "Enter the witness's user name."}
    ]
    assert written() == before


def test_the_witness_cannot_be_the_one_resolving(site, technician, pharmacist):
    inv = short(site, technician)
    before = written()
    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=credentials(pharmacist),
        )
    assert caught.value.field == "witness.username"
    assert "second person" in caught.value.message
    assert written() == before


@pytest.mark.parametrize("role", [Role.TECHNICIAN_IN_TRAINING, Role.ADMIN, Role.AUDITOR])
def test_a_role_that_may_not_witness_is_refused(site, technician, pharmacist, role):
    inv = short(site, technician)
    other = witness(site, role, "not-a-witness")
    before = written()
    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=credentials(other),
        )
    assert caught.value.field == "witness.username"
    assert "may not witness" in caught.value.message
    assert written() == before


def test_a_wrong_password_is_refused_and_audited(site, technician, pharmacist):
    inv = short(site, technician)
    second = witness(site)
    before = written()
    events = audit_count()

    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness={"username": second.username, "password": "not-it"},
        )

    assert caught.value.errors == [
        {"field": "witness.password", "message": "The witness's password is not right."}
    ]
    assert written() == before
    assert audit_count() == events + 1
    assert last_event().action == "auth.witness_failed"
    assert on_hand(site) == Decimal(137)


def test_an_enrolled_witness_needs_the_authenticator_code(site, technician, pharmacist):
    inv = short(site, technician)
    second = witness(site)
    device = TOTPDevice.objects.create(user=second, name="phone", confirmed=True)
    before = written()

    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=credentials(second),
        )
    assert caught.value.field == "witness.otp"
    assert written() == before

    resolved = investigation_resolve(
        actor=pharmacist,
        investigation=inv,
        outcome="record_error",
        conclusion="x",
        witness=credentials(second, otp=code_for(device)),
    )
    assert resolved.witness_factors == "password+totp"
    assert resolved.correction.witness == second


def test_a_wrong_authenticator_code_is_refused(site, technician, pharmacist):
    inv = short(site, technician)
    second = witness(site)
    device = TOTPDevice.objects.create(user=second, name="phone", confirmed=True)
    wrong = f"{(int(code_for(device)) + 500000) % 10**6:06d}"
    before = written()

    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=credentials(second, otp=wrong),
        )

    assert caught.value.errors == [
        {"field": "witness.otp", "message": "The witness's authenticator code is not right."}
    ]
    assert written() == before
    assert last_event().action == "auth.witness_failed"


def test_a_witness_of_another_pharmacy_is_refused(site, other_site, technician, pharmacist):
    inv = short(site, technician)
    stranger = witness(other_site, Role.PHARMACIST, "elsewhere")
    with pytest.raises(Invalid) as caught:
        investigation_resolve(
            actor=pharmacist,
            investigation=inv,
            outcome="record_error",
            conclusion="x",
            witness=credentials(stranger),
        )
    assert caught.value.field == "witness.username"


def test_stock_of_a_plain_package_is_not_audited_here(site, technician):
    stock(site, package(), "P1", 10)
    with pytest.raises(Invalid):
        cs_audit_record(actor=technician, ndc="0002-3227-30", counted=10)
