"""Services of the formulary and interchange: audit event, broken rule (nothing written),
forbidden role (nothing written), for each."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.formulary import services
from rxdesk.formulary.choices import FormularyStatus, ProtocolStatus
from rxdesk.formulary.models import FormularyEntry, InterchangeDecision, InterchangeProtocol
from rxdesk.rx.choices import FillStatus, InactiveReason, RxStatus
from rxdesk.rx.models import Prescription
from tests.catalog.factories import ProductFactory
from tests.formulary.setup import fluoxetine, ppis, protocol, rx, user
from tests.rx.factories import dispense, first_fill


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _data(event: AuditEvent) -> dict:
    return json.loads(event.data)


# --- Entries ----------------------------------------------------------------------------------


def test_it_adds_then_changes_an_entry_with_one_event_each(pic):
    product = ProductFactory()
    entry = services.formulary_entry_set(
        actor=pic, product=product, status=FormularyStatus.FORMULARY, tier=2
    )
    again = services.formulary_entry_set(
        actor=pic,
        product=product,
        status=FormularyStatus.RESTRICTED,
        tier=2,
        criteria="Failed two generics",
        effective_from=dt.date(2025, 1, 1),
    )
    assert again.pk == entry.pk
    row = FormularyEntry.objects.get()
    assert (row.site_id, row.status, row.tier, row.criteria, row.updated_by_id) == (
        pic.site_id,
        "restricted",
        2,
        "Failed two generics",
        pic.pk,
    )
    first, second = _events("formulary.entry.set")
    assert _data(first)["created"] is True
    assert _data(second) == {
        "created": False,
        "product_id": product.pk,
        "changes": {
            "criteria": ["", "Failed two generics"],
            "effective_from": [None, "2025-01-01"],
            "status": ["formulary", "restricted"],
        },
    }
    assert second.actor_id == pic.pk and second.object_id == str(entry.pk)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"status": "restricted"}, "criteria", "needs its criteria"),
        ({"status": "gold"}, "status", "Choose a status"),
        ({"status": "formulary", "tier": 12}, "tier", "1 to 9"),
        (
            {
                "status": "formulary",
                "effective_from": dt.date(2025, 2, 1),
                "effective_to": dt.date(2025, 1, 1),
            },
            "effective_to",
            "cannot end before it starts",
        ),
    ],
)
def test_a_bad_entry_is_refused_and_nothing_written(pic, values, field, message):
    with pytest.raises(Invalid) as caught:
        services.formulary_entry_set(actor=pic, product=ProductFactory(), **values)
    assert caught.value.field == field and message in caught.value.message
    assert FormularyEntry.objects.count() == 0
    assert _events("formulary.entry.set") == []


@pytest.mark.parametrize("persona", ["pharmacist", "technician", "auditor"])
def test_only_the_pic_keeps_the_formulary(request, persona):
    actor = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        services.formulary_entry_set(actor=actor, product=ProductFactory(), status="formulary")
    assert FormularyEntry.objects.count() == 0 and _events("formulary.entry.set") == []


def test_removing_an_entry_is_audited_with_what_it_was(pic):
    product = ProductFactory()
    entry = services.formulary_entry_set(actor=pic, product=product, status="preferred", tier=1)
    services.formulary_entry_remove(actor=pic, entry=entry)
    assert FormularyEntry.objects.count() == 0
    (event,) = _events("formulary.entry.removed")
    assert _data(event) == {
        "product_id": product.pk,
        "status": "preferred",
        "tier": 1,
        "criteria": "",
        "notes": "",
        "effective_from": None,
        "effective_to": None,
    }


def test_another_sites_entry_does_not_exist(pic, other_site):

    theirs = services.formulary_entry_set(
        actor=user(other_site, Role.PHARMACIST_IN_CHARGE),
        product=ProductFactory(),
        status="preferred",
    )
    with pytest.raises(NotFound):
        services.formulary_entry_remove(actor=pic, entry=theirs)
    assert FormularyEntry.objects.filter(pk=theirs.pk).exists()


def test_the_target_of_an_approved_protocol_cannot_be_removed(site, pic):
    row = protocol(site)
    entry = FormularyEntry.objects.get(product=row.to_product)
    with pytest.raises(Conflict, match="retire it first"):
        services.formulary_entry_remove(actor=pic, entry=entry)
    assert FormularyEntry.objects.filter(pk=entry.pk).exists()
    assert _events("formulary.entry.removed") == []


def test_a_pharmacist_cannot_remove_an_entry(pic, pharmacist):
    entry = services.formulary_entry_set(actor=pic, product=ProductFactory(), status="preferred")
    with pytest.raises(Forbidden):
        services.formulary_entry_remove(actor=pharmacist, entry=entry)
    assert FormularyEntry.objects.count() == 1 and _events("formulary.entry.removed") == []


# --- Import -----------------------------------------------------------------------------------


def test_an_import_adds_changes_and_leaves_alone(pic):
    drugs = fluoxetine()
    services.formulary_entry_set(actor=pic, product=drugs["teva"], status="formulary")
    services.formulary_entry_set(actor=pic, product=drugs["mylan"], status="preferred", tier=1)
    text = (
        "product_id,status,tier,criteria\n"
        f"{drugs['teva'].pk},preferred,1,\n"
        f"{drugs['mylan'].pk},preferred,1,\n"
        f"{drugs['prozac'].pk},Non-Formulary,,\n"
        f"{drugs['bx'].pk},restricted,3,Psychiatry only\n"
    )
    result = services.formulary_import(actor=pic, text=text)
    assert (result.created, result.updated, result.unchanged) == (2, 1, 1)
    got = dict(FormularyEntry.objects.values_list("product_id", "status"))
    assert got == {
        drugs["teva"].pk: "preferred",
        drugs["mylan"].pk: "preferred",
        drugs["prozac"].pk: "non_formulary",
        drugs["bx"].pk: "restricted",
    }
    (event,) = _events("formulary.entry.imported")
    assert _data(event)["created"] == 2 and _data(event)["updated"] == 1


def test_an_import_by_ndc_finds_the_product(pic):
    product = ProductFactory(product_ndc="0777-3105")
    result = services.formulary_import(actor=pic, text="ndc,status\n0777-3105,formulary\n")
    assert result.created == 1
    assert FormularyEntry.objects.get().product_id == product.pk


def test_a_bad_import_names_every_bad_line_and_changes_nothing(pic):
    product = ProductFactory()
    text = (
        "product_id,status,criteria\n"
        f"{product.pk},preferred,\n"
        "999999,preferred,\n"
        f"{product.pk},restricted,\n"
    )
    with pytest.raises(Invalid) as caught:
        services.formulary_import(actor=pic, text=text)
    assert [e["message"] for e in caught.value.errors] == [
        "Line 3: 999999 is not in the catalog.",
        "Line 4: A restricted product needs its criteria (who may get it, when).",
    ]
    assert FormularyEntry.objects.count() == 0 and _events("formulary.entry.imported") == []


def test_an_import_needs_the_column_names(pic):
    with pytest.raises(Invalid, match="first line must name the columns"):
        services.formulary_import(actor=pic, text="0002-3227,preferred\n")


def test_a_technician_cannot_import(technician):
    with pytest.raises(Forbidden):
        services.formulary_import(actor=technician, text="ndc,status\n0002-3227,preferred\n")
    assert FormularyEntry.objects.count() == 0


# --- Protocols --------------------------------------------------------------------------------


def test_a_protocol_is_drafted_then_approved_by_the_pic(site, pic):
    row = protocol(site, approve=False)
    assert (row.status, row.approved_by_id) == (ProtocolStatus.DRAFT, None)
    assert row.from_ingredient == "OMEPRAZOLE"
    approved = services.protocol_approve(actor=pic, protocol=row)
    assert (approved.status, approved.approved_by_id) == ("approved", pic.pk)
    assert approved.approved_at is not None
    (created,) = _events("formulary.protocol.created")
    (event,) = _events("formulary.protocol.approved")
    assert _data(created)["ratio"] == "2" and _data(created)["conversions"] == [
        {"from": "20 mg", "to": "40 mg"}
    ]
    assert _data(event) == {"to_product_id": row.to_product_id, "from_ingredient": "OMEPRAZOLE"}


def test_a_protocol_to_a_product_off_the_formulary_is_not_approved(site, pic):
    row = protocol(site, approve=False)
    FormularyEntry.objects.filter(product=row.to_product).update(status="non_formulary")
    with pytest.raises(Conflict, match="not on the formulary"):
        services.protocol_approve(actor=pic, protocol=row)
    row.refresh_from_db()
    assert row.status == "draft" and _events("formulary.protocol.approved") == []


def test_a_pharmacist_cannot_approve_a_protocol(site, pharmacist):
    row = protocol(site, approve=False)
    with pytest.raises(Forbidden):
        services.protocol_approve(actor=pharmacist, protocol=row)
    row.refresh_from_db()
    assert row.status == "draft" and _events("formulary.protocol.approved") == []


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"ratio": None, "conversions": []}, "ratio", "Give the dose conversion"),
        ({"ratio": "-1"}, "ratio", "greater than 0"),
        ({"conversions": [{"from": "20 mg"}]}, "conversions", "Row 1"),
        ({"from_ingredient": " "}, "from_ingredient", "Name the active ingredient"),
        ({"from_ingredient": "pantoprazole"}, "to_product", "an interchange changes the drug"),
    ],
)
def test_a_bad_protocol_is_refused_and_nothing_written(site, pic, over, field, message):
    with pytest.raises(Invalid) as caught:
        protocol(site, approve=False, **over)
    assert caught.value.field == field and message in caught.value.message
    assert InterchangeProtocol.objects.count() == 0
    assert _events("formulary.protocol.created") == []


def test_a_technician_cannot_draft_a_protocol(technician):
    with pytest.raises(Forbidden):
        services.protocol_create(
            actor=technician,
            name="X",
            from_ingredient="OMEPRAZOLE",
            to_product=ppis()["panto40"],
            ratio=Decimal(2),
        )
    assert InterchangeProtocol.objects.count() == 0


def test_only_a_draft_is_changed(site, pic):
    row = protocol(site, approve=False)
    changed = services.protocol_update(actor=pic, protocol=row, sig_note="take before breakfast")
    assert changed.sig_note == "take before breakfast"
    (event,) = _events("formulary.protocol.updated")
    assert _data(event)["changes"] == {
        "sig_note": ["omeprazole 20 mg daily → pantoprazole 40 mg daily", "take before breakfast"]
    }
    services.protocol_approve(actor=pic, protocol=row)
    with pytest.raises(Conflict, match="only a draft is changed"):
        services.protocol_update(actor=pic, protocol=row, sig_note="other")
    assert len(_events("formulary.protocol.updated")) == 1


def test_a_protocol_is_retired_with_a_reason(site, pic, pharmacist):
    row = protocol(site)
    with pytest.raises(Invalid, match="Say why"):
        services.protocol_retire(actor=pic, protocol=row, reason="  ")
    with pytest.raises(Forbidden):
        services.protocol_retire(actor=pharmacist, protocol=row, reason="old")
    assert _events("formulary.protocol.retired") == []
    retired = services.protocol_retire(actor=pic, protocol=row, reason="P&T review 2025")
    assert (retired.status, retired.status_reason) == ("retired", "P&T review 2025")
    (event,) = _events("formulary.protocol.retired")
    assert event.reason == "P&T review 2025" and _data(event) == {"from_status": "approved"}


# --- Interchange decisions --------------------------------------------------------------------


def test_accepting_replaces_the_rx_with_one_for_the_formulary_product(site, pic, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"], refills_authorized=5)
    dispense(first_fill(old), site.today())
    decision = services.interchange_decide(
        actor=pharmacist,
        prescription=old,
        protocol=row,
        accept=True,
        note="Plan prefers pantoprazole",
        prescriber_notified="fax",
    )
    old.refresh_from_db()
    new = Prescription.objects.get(replaces=old)
    assert decision.new_prescription_id == new.pk and decision.accepted is True
    assert (old.status, old.inactive_reason) == (RxStatus.INACTIVE, InactiveReason.REPLACED)
    assert old.status_note == f"Interchanged to Rx {new.number} (Omeprazole to pantoprazole)"
    # 1 + 5 authorized, 1 dispensed: 5 fills left = the new first fill and 4 refills.
    assert (new.product_id, new.refills_authorized, new.quantity, new.days_supply, new.daw) == (
        row.to_product_id,
        4,
        Decimal("30.000"),
        30,
        0,
    )
    assert (new.patient_id, new.prescriber_id, new.date_written) == (
        old.patient_id,
        old.prescriber_id,
        old.date_written,
    )
    assert new.fills.get().status == FillStatus.QUEUED
    assert decision.conversion == "20 mg/1 → 40 mg"
    assert (decision.prescriber_notified, decision.notified_at is not None) == ("fax", True)
    (event,) = _events("formulary.interchange.decided")
    assert event.patient_id == old.patient_id
    assert _data(event) == {
        "prescription_id": old.pk,
        "rx_number": old.number,
        "protocol_id": row.pk,
        "accepted": True,
        "from_product_id": old.product_id,
        "to_product_id": row.to_product_id,
        "new_prescription_id": new.pk,
        "new_rx_number": new.number,
        "prescriber_notified": "fax",
    }


def test_accepting_before_any_fill_keeps_every_refill_and_cancels_the_waiting_fill(
    site, pharmacist
):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"], refills_authorized=3)
    services.interchange_decide(actor=pharmacist, prescription=old, protocol=row, accept=True)
    new = Prescription.objects.get(replaces=old)
    assert new.refills_authorized == 3
    assert first_fill(old).status == FillStatus.CANCELLED


def test_declining_records_the_reason_and_changes_no_prescription(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    count = Prescription.objects.count()
    decision = services.interchange_decide(
        actor=pharmacist, prescription=old, protocol=row, accept=False, note="Failed pantoprazole"
    )
    assert (decision.accepted, decision.new_prescription_id, decision.note) == (
        False,
        None,
        "Failed pantoprazole",
    )
    assert Prescription.objects.count() == count
    old.refresh_from_db()
    assert old.status == RxStatus.ACTIVE


def test_declining_without_a_reason_is_refused(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    with pytest.raises(Invalid, match="Say why the interchange is declined"):
        services.interchange_decide(actor=pharmacist, prescription=old, protocol=row, accept=False)
    assert InterchangeDecision.objects.count() == 0
    assert _events("formulary.interchange.decided") == []


@pytest.mark.parametrize("persona", ["technician", "trainee", "auditor", "inventory"])
def test_only_a_pharmacist_applies_an_interchange(request, site, pharmacist, persona):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    count = Prescription.objects.count()
    with pytest.raises(Forbidden):
        services.interchange_decide(
            actor=request.getfixturevalue(persona), prescription=old, protocol=row, accept=True
        )
    assert InterchangeDecision.objects.count() == 0 and Prescription.objects.count() == count
    assert _events("formulary.interchange.decided") == []


def test_a_dispense_as_written_rx_is_not_interchanged(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"], daw=1)
    count = Prescription.objects.count()
    with pytest.raises(Conflict, match="DAW 1"):
        services.interchange_decide(actor=pharmacist, prescription=old, protocol=row, accept=True)
    assert InterchangeDecision.objects.count() == 0 and Prescription.objects.count() == count
    old.refresh_from_db()
    assert old.status == RxStatus.ACTIVE


def test_an_rx_already_on_formulary_needs_no_interchange(site, pic, pharmacist):
    row = protocol(site)
    ome = ppis()["ome20"]
    services.formulary_entry_set(actor=pic, product=ome, status="formulary")
    old = rx(pharmacist, ome)
    with pytest.raises(Conflict, match="no interchange is needed"):
        services.interchange_decide(actor=pharmacist, prescription=old, protocol=row, accept=True)
    assert InterchangeDecision.objects.count() == 0


def test_a_draft_or_unrelated_protocol_is_not_applied(site, pharmacist):
    draft = protocol(site, approve=False)
    old = rx(pharmacist, ppis()["ome20"])
    with pytest.raises(Conflict, match="only an approved protocol"):
        services.interchange_decide(actor=pharmacist, prescription=old, protocol=draft, accept=True)
    other = rx(pharmacist, ppis()["eso20"])

    services.protocol_approve(actor=user(site, Role.PHARMACIST_IN_CHARGE), protocol=draft)
    with pytest.raises(Invalid, match="does not apply"):
        services.interchange_decide(
            actor=pharmacist, prescription=other, protocol=draft, accept=True
        )
    assert InterchangeDecision.objects.count() == 0


def test_a_decision_is_made_once(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    services.interchange_decide(
        actor=pharmacist, prescription=old, protocol=row, accept=False, note="Patient refused"
    )
    with pytest.raises(Conflict, match="already decided"):
        services.interchange_decide(actor=pharmacist, prescription=old, protocol=row, accept=True)
    assert InterchangeDecision.objects.count() == 1


def test_another_sites_prescription_does_not_exist(site, other_site, pharmacist):

    row = protocol(site)
    theirs = rx(user(other_site, Role.PHARMACIST), ppis()["ome20"])
    with pytest.raises(NotFound):
        services.interchange_decide(
            actor=pharmacist, prescription=theirs, protocol=row, accept=True
        )
    assert InterchangeDecision.objects.count() == 0


def test_a_protocol_with_no_dose_for_the_strength_is_not_applied(site, pharmacist):
    row = protocol(site, ratio=None)
    old = rx(pharmacist, ppis()["ome40"])
    count = Prescription.objects.count()
    with pytest.raises(Invalid, match="gives no dose for 40 mg/1"):
        services.interchange_decide(actor=pharmacist, prescription=old, protocol=row, accept=True)
    assert InterchangeDecision.objects.count() == 0 and Prescription.objects.count() == count


def test_a_pharmacist_cannot_change_a_draft_and_a_taken_name_is_refused(site, pic, pharmacist):
    row = protocol(site, approve=False)
    with pytest.raises(Forbidden):
        services.protocol_update(actor=pharmacist, protocol=row, sig_note="x")
    services.protocol_create(
        actor=pic,
        name="Other",
        from_ingredient="ESOMEPRAZOLE",
        to_product=row.to_product,
        ratio=Decimal(1),
    )
    with pytest.raises(Conflict, match="A protocol named 'Other' already exists"):
        services.protocol_update(actor=pic, protocol=row, name="Other")
    row.refresh_from_db()
    assert (row.name, row.sig_note) == (
        "Omeprazole to pantoprazole",
        "omeprazole 20 mg daily → pantoprazole 40 mg daily",
    )
    assert _events("formulary.protocol.updated") == []
