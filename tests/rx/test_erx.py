"""E-prescriptions: NewRx, CancelRx, renewals, idempotency by MessageID, hostile XML, the
technician's matching and rejecting, and who may do each (issue 5, item 5)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from rxdesk.core import context
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.interop import script
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import services
from rxdesk.rx.choices import ErxStatus, FillStatus, InactiveReason, Origin, RxStatus
from rxdesk.rx.models import ErxMessage, Fill, Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.conftest import audit_count, last_event
from tests.factories import PatientFactory, PrescriberFactory, SiteFactory, UserFactory
from tests.rx.factories import dispense, first_fill, make_rx

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
DOB = dt.date(1980, 1, 2)
NPI = "1234567893"  # PrescriberFactory's
DEA = "BO1234563"  # Okafor's, on file
OTHER_DEA = "BO7654329"  # a good check digit, not on file
NDC = "00002322730"  # PackageFactory's 0002-3227-30
SENDER = script.Endpoint("D", "SPI0000000001")
SENT = dt.datetime(2025, 6, 2, 15, 30, tzinfo=dt.UTC)


# --- Messages --------------------------------------------------------------------------------


def medication(
    site: Any,
    *,
    ndc: str | None = NDC,
    description: str = "Prozac 20 mg capsule",
    quantity: str = "30",
    unit: str = "C48480",
    days: int | None = 30,
    refills: int | None = 2,
    schedule: script.DeaSchedule | None = None,
    written: dt.date | None = None,
    sig: str = "Take 1 capsule by mouth once daily.",
    note: str | None = None,
    diagnoses: tuple[script.Diagnosis, ...] = (),
) -> script.Medication:
    return script.Medication(
        drug_description=description,
        quantity=script.Quantity(Decimal(quantity), "38", unit),
        written_date=written or site.today(),
        substitutions=0,
        sig=script.Sig(sig),
        product_code=script.Code(ndc, "ND") if ndc else None,
        dea_schedule=schedule,
        days_supply=days,
        refills=refills,
        note=note,
        diagnoses=diagnoses,
    )


def newrx(
    site: Any,
    *,
    message_id: str = "NEWRX-0001",
    last: str = "DOE",
    first: str = "JANE",
    dob: dt.date = DOB,
    npi: str = NPI,
    dea: str | None = None,
    pon: str | None = "ORD-0001",
    to: script.Endpoint | None = None,
    prohibit_renewal: bool = False,
    **med: Any,
) -> bytes:
    xml = script.new_rx(
        to=to or script.Endpoint("P", site.ncpdp_id),
        from_=SENDER,
        message_id=message_id,
        sent_time=SENT,
        patient=script.Patient(
            name=script.Name(last, first),
            gender="F",
            date_of_birth=dob,
            address=script.PostalAddress("1 MAIN ST", None, "CHICAGO", "IL", "60601", "US"),
            phone="3125550142",
        ),
        pharmacy=script.Pharmacy(ncpdp_id=site.ncpdp_id or "7654321"),
        prescriber=script.Prescriber(
            name=script.Name("OKAFOR", "MARGARET"), npi=npi, dea_number=dea
        ),
        medication=medication(site, **med),
        prescriber_order_number=pon,
    )
    if prohibit_renewal:
        xml = xml.replace(
            b"</MedicationPrescribed>",
            b"</MedicationPrescribed><ProhibitRenewalRequest>true</ProhibitRenewalRequest>",
        )
    return xml


def _header(
    site: Any, message_id: str, relates_to: str | None, pon: str | None, ref: str | None = None
) -> str:
    lines = [
        f'<To Qualifier="P">{site.ncpdp_id}</To>',
        f'<From Qualifier="D">{SENDER.value}</From>',
        f"<MessageID>{message_id}</MessageID>",
    ]
    if relates_to:
        lines.append(f"<RelatesToMessageID>{relates_to}</RelatesToMessageID>")
    lines.append(f"<SentTime>{timezone.now():%Y-%m-%dT%H:%M:%SZ}</SentTime>")
    if ref:
        lines.append(f"<RxReferenceNumber>{ref}</RxReferenceNumber>")
    if pon:
        lines.append(f"<PrescriberOrderNumber>{pon}</PrescriberOrderNumber>")
    return "<Header>" + "".join(lines) + "</Header>"


ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><Message DatatypesVersion="20170715" '
    'TransportVersion="20170715" TransactionDomain="SCRIPT" TransactionVersion="20170715" '
    'StructuresVersion="20170715" ECLVersion="20170715">{header}<Body>{body}</Body></Message>'
)


def _patient_xml(last: str = "DOE", first: str = "JANE", dob: dt.date = DOB) -> str:
    return (
        f"<Patient><HumanPatient><Name><LastName>{last}</LastName><FirstName>{first}</FirstName>"
        f"</Name><Gender>F</Gender><DateOfBirth><Date>{dob.isoformat()}</Date></DateOfBirth>"
        "</HumanPatient></Patient>"
    )


PRESCRIBER_XML = (
    f"<Prescriber><NonVeterinarian><Identification><NPI>{NPI}</NPI></Identification>"
    "<Name><LastName>OKAFOR</LastName><FirstName>MARGARET</FirstName></Name>"
    "</NonVeterinarian></Prescriber>"
)


def med_xml(
    site: Any,
    *,
    ndc: str | None = NDC,
    description: str = "Prozac 20 mg capsule",
    quantity: str = "30",
    days: int | None = 30,
    refills: int | None = 2,
    written: dt.date | None = None,
    sig: str = "Take 1 capsule by mouth once daily.",
) -> str:
    code = (
        f"<DrugCoded><ProductCode><Code>{ndc}</Code><Qualifier>ND</Qualifier></ProductCode>"
        "</DrugCoded>"
        if ndc
        else ""
    )
    return (
        f"<MedicationPrescribed><DrugDescription>{description}</DrugDescription>{code}"
        f"<Quantity><Value>{quantity}</Value><CodeListQualifier>38</CodeListQualifier>"
        "<QuantityUnitOfMeasure><Code>C48480</Code></QuantityUnitOfMeasure></Quantity>"
        + (f"<DaysSupply>{days}</DaysSupply>" if days else "")
        + f"<WrittenDate><Date>{(written or site.today()).isoformat()}</Date></WrittenDate>"
        "<Substitutions>0</Substitutions>"
        + (f"<NumberOfRefills>{refills}</NumberOfRefills>" if refills is not None else "")
        + f"<Sig><SigText>{sig}</SigText></Sig></MedicationPrescribed>"
    )


def cancel_xml(
    site: Any,
    *,
    message_id: str = "CANCEL-0001",
    pon: str | None = "ORD-0001",
    relates_to: str | None = None,
    last: str = "DOE",
    ndc: str | None = NDC,
) -> bytes:
    body = (
        "<CancelRx>"
        + _patient_xml(last=last)
        + f"<Pharmacy><Identification><NCPDPID>{site.ncpdp_id}</NCPDPID></Identification>"
        "</Pharmacy>" + PRESCRIBER_XML + med_xml(site, ndc=ndc) + "</CancelRx>"
    )
    header = _header(site, message_id, relates_to, pon)
    return ENVELOPE.format(header=header, body=body).encode()


def renewal_response_xml(
    site: Any,
    *,
    relates_to: str,
    message_id: str = "RENEW-RESP-0001",
    decision: str = "Approved",
    note: str | None = None,
    reason_code: str | None = None,
    reason: str | None = None,
    med: str = "",
    pon: str | None = "ORD-0002",
) -> bytes:
    if decision == "Denied":
        inner = f"<ReasonCode>{reason_code}</ReasonCode>" + (
            f"<DenialReason>{reason}</DenialReason>" if reason else ""
        )
    else:
        inner = f"<Note>{note}</Note>" if note else ""
    response = f"<Response><{decision}>{inner}</{decision}></Response>"
    body = "<RxRenewalResponse>" + response
    if med:
        body += _patient_xml() + PRESCRIBER_XML + med
    body += "</RxRenewalResponse>"
    header = _header(site, message_id, relates_to, pon)
    return ENVELOPE.format(header=header, body=body).encode()


def receive(actor: Any, xml: bytes | str) -> services.ErxReceipt:
    return services.erx_receive(actor=actor, xml=xml)


def reply_of(receipt: services.ErxReceipt) -> script.ScriptMessage:
    return script.parse(receipt.reply_xml)


def counts() -> tuple[int, int, int, int]:
    return (
        ErxMessage.objects.count(),
        Prescription.objects.count(),
        Fill.objects.count(),
        audit_count(),
    )


def fields(exc: pytest.ExceptionInfo[Any]) -> set[str]:
    return {e["field"] for e in exc.value.errors}


@pytest.fixture
def world(site):
    """Jane Doe, Dr. Okafor (NPI and DEA on file) and Prozac 20 mg, 30 capsules."""
    product = ProductFactory()
    return SimpleNamespace(
        patient=PatientFactory(site=site, first_name="Jane", last_name="Doe", date_of_birth=DOB),
        prescriber=PrescriberFactory(site=site, dea_number=DEA),
        product=product,
        package=PackageFactory(product=product),
    )


# --- NewRx -----------------------------------------------------------------------------------


def test_a_matched_newrx_is_queued_as_an_electronic_prescription(technician, site, world):
    before = audit_count()
    receipt = receive(technician, newrx(site, note="Take with food.", dea=DEA))

    message = receipt.message
    assert receipt.created and message.status == ErxStatus.QUEUED
    assert message.summary == "Prozac 20 mg capsule for DOE, JANE (DOB 01/02/1980)"
    assert (message.sender, message.prescriber_order_number) == (SENDER.value, "ORD-0001")
    assert (message.patient, message.prescriber, message.package) == (
        world.patient,
        world.prescriber,
        world.package,
    )
    rx = message.prescription
    assert rx is not None and rx.origin == Origin.ELECTRONIC
    assert (rx.quantity, rx.quantity_unit, rx.days_supply) == (Decimal("30"), "EA", 30)
    assert (rx.refills_authorized, rx.daw, rx.date_written) == (2, 0, site.today())
    assert rx.directions_en == "Take 1 capsule by mouth once daily."
    assert rx.prescriber_order_number == "ORD-0001" and rx.package == world.package
    assert rx.drug_description == "Prozac 20 mg capsule" and "Take with food." in rx.notes
    assert rx.fills.get().status == FillStatus.QUEUED

    answer = reply_of(receipt)
    assert answer.message_type is script.MessageType.STATUS
    assert answer.body.code == "010"  # accepted by the ultimate receiver
    assert answer.header.relates_to_message_id == "NEWRX-0001"
    assert answer.header.to == SENDER
    assert message.reply is not None and message.reply.direction == "out"
    assert message.reply.status == ErxStatus.SENT and message.reply.message_type == "Status"

    assert audit_count() == before + 1
    event = last_event()
    assert (event.action, event.object_id, event.patient_id) == (
        "rx.erx.received",
        str(message.pk),
        world.patient.pk,
    )
    assert json.loads(event.data)["prescription_id"] == rx.pk


def test_the_reference_fixture_is_refused_for_its_npi():
    # The team reference's synthetic NewRx has a prescriber NPI with a wrong check digit.
    site = SiteFactory(name="Test Pharmacy", ncpdp_id="9990001")
    tech = UserFactory(site=site, role=Role.TECHNICIAN, username="tech-ref")
    xml = (Path(__file__).parents[1] / "interop" / "data" / "newrx_reference.xml").read_bytes()
    with pytest.raises(Invalid) as exc:
        services.erx_receive(actor=tech, xml=xml)
    assert "Prescriber.NonVeterinarian.Identification.NPI" in fields(exc)
    assert ErxMessage.objects.count() == 0


def test_days_supply_not_sent_is_worked_out_and_flagged(technician, site, world):
    rx = receive(technician, newrx(site, days=None, quantity="60")).message.prescription
    assert rx is not None and rx.days_supply == 60
    assert "Days supply not sent; 60 days worked out from the directions." in rx.notes


def test_days_supply_not_sent_and_not_computable_falls_back_to_30(technician, site, world):
    receipt = receive(technician, newrx(site, days=None, sig="Use as directed by your doctor."))
    rx = receipt.message.prescription
    assert rx is not None and rx.days_supply == 30 and rx.needs_review
    assert "Days supply not sent; 30 days assumed" in rx.notes


def test_diagnosis_and_signature_are_kept(technician, site, world):
    xml = newrx(
        site,
        diagnoses=(script.Diagnosis("E119", "ABF"), script.Diagnosis("I10", "ABF", primary=False)),
    )
    xml = xml.replace(
        b"</Header>",
        b"<DigitalSignature><DigitalSignatureIndicator>true</DigitalSignatureIndicator>"
        b"</DigitalSignature></Header>",
    )
    rx = receive(technician, xml).message.prescription
    assert rx is not None and rx.diagnosis_code == "E11.9" and rx.digitally_signed


def test_a_replay_1000_times_makes_one_prescription_and_the_same_answer(technician, site, world):
    xml = newrx(site)
    first = receive(technician, xml)
    assert first.created
    events = audit_count()
    for _ in range(1000):
        again = receive(technician, xml)
        assert not again.created
        assert again.message.pk == first.message.pk
        assert again.reply_xml == first.reply_xml
    assert ErxMessage.objects.filter(direction="in").count() == 1
    assert ErxMessage.objects.filter(direction="out").count() == 1
    assert Prescription.objects.count() == 1 and Fill.objects.count() == 1
    assert audit_count() == events  # a replay changes nothing


def test_a_replay_as_text_is_the_same_message(technician, site, world):
    xml = newrx(site)
    first = receive(technician, xml)
    again = receive(technician, xml.decode())
    assert not again.created and again.reply_xml == first.reply_xml


def test_the_same_message_id_with_other_content_is_a_conflict(technician, site, world):
    receive(technician, newrx(site))
    before = counts()
    with pytest.raises(Conflict) as exc:
        receive(technician, newrx(site, quantity="60"))
    assert exc.value.field == "Header/MessageID"
    assert "different content" in exc.value.message
    assert counts() == before


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Message><Header>&lol3;</Header></Message>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Message><Header><MessageID>&xxe;</MessageID></Header></Message>"""
DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Message SYSTEM "http://example.test/script.dtd">
<Message><Header/></Message>"""


@pytest.mark.parametrize(
    "xml",
    [BOMB, EXTERNAL, DTD, b"<Message><Header>", b"", b"<NotScript/>"],
    ids=["entity-bomb", "external-entity", "dtd", "broken", "empty", "not-script"],
)
def test_hostile_or_malformed_xml_is_refused_and_nothing_is_stored(technician, site, world, xml):
    before = counts()
    with pytest.raises(Invalid) as exc:
        receive(technician, xml)
    assert all(e["field"] for e in exc.value.errors)
    assert counts() == before


def test_a_missing_element_is_named(technician, site, world):
    xml = newrx(site).replace(b"<Gender>F</Gender>", b"")
    with pytest.raises(Invalid) as exc:
        receive(technician, xml)
    assert fields(exc) == {"Patient.HumanPatient.Gender"}
    assert ErxMessage.objects.count() == 0


def test_a_message_for_another_pharmacy_is_refused(technician, site, world):
    before = counts()
    with pytest.raises(Invalid) as exc:
        receive(technician, newrx(site, to=script.Endpoint("P", "9990001")))
    assert fields(exc) == {"Header/To"} and "9990001" in exc.value.message
    assert counts() == before


def test_a_schedule_ii_with_refills_is_refused_naming_the_field(technician, site, world):
    before = counts()
    with pytest.raises(Invalid) as exc:
        receive(technician, newrx(site, schedule=script.DeaSchedule.CII, dea=DEA, refills=2))
    assert "MedicationPrescribed.NumberOfRefills" in fields(exc)
    assert counts() == before


def test_our_catalog_schedule_counts_even_when_the_message_omits_it(technician, site, world):
    world.product.directory_dea_schedule = "CII"
    world.product.save()
    before = counts()
    with pytest.raises(Invalid) as exc:
        receive(technician, newrx(site, dea=DEA, refills=3))
    assert fields(exc) == {"MedicationPrescribed.NumberOfRefills"}
    assert "1306.12" in exc.value.errors[0]["message"]
    assert counts() == before


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"written": dt.date(2099, 1, 1)}, "MedicationPrescribed.WrittenDate"),
        ({"quantity": "0"}, "MedicationPrescribed.Quantity.Value"),
        ({"quantity": "50000"}, "MedicationPrescribed.Quantity.Value"),
        ({"npi": "1234567890"}, "Prescriber.NonVeterinarian.Identification.NPI"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(technician, site, world, over, field):
    before = counts()
    with pytest.raises(Invalid) as exc:
        receive(technician, newrx(site, **over))
    assert field in fields(exc)
    assert counts() == before


def test_a_dea_number_that_is_not_the_prescribers_is_refused(technician, site, world):
    before = counts()
    with pytest.raises(Invalid) as exc:
        receive(technician, newrx(site, dea=OTHER_DEA))
    assert fields(exc) == {"Prescriber.NonVeterinarian.Identification.DEANumber"}
    assert OTHER_DEA in exc.value.message
    assert counts() == before


def test_an_unmatched_patient_waits_with_candidates(technician, site, world):
    janet = PatientFactory(site=site, first_name="Janet", last_name="Doe", date_of_birth=DOB)
    receipt = receive(technician, newrx(site, first="JANE", last="DOE", dob=DOB, message_id="N2"))
    # Jane Doe exists too: this message is for another birth date.
    receipt = receive(technician, newrx(site, dob=dt.date(1981, 1, 2), message_id="N3"))
    message = receipt.message
    assert receipt.created and message.status == ErxStatus.NEEDS_MATCH
    assert message.patient is None and message.prescription is None
    assert message.prescriber == world.prescriber and message.package == world.package
    assert message.candidates["patient"] == [world.patient.pk]
    assert message.candidates["prescriber"] == [world.prescriber.pk]
    assert message.candidates["package"] == [world.package.pk]
    assert "No patient on file is exactly DOE, JANE (born 01/02/1981)" in message.status_note
    assert reply_of(receipt).body.code == "010"
    assert last_event().action == "rx.erx.received"
    assert Prescription.objects.filter(patient=janet).count() == 0


def test_unknown_prescriber_and_drug_wait_with_candidates(technician, site, world):
    other_package = PackageFactory(product=world.product, ndc10="0002-3227-60")
    receipt = receive(technician, newrx(site, npi="1555555550", ndc="00002322799"))
    message = receipt.message
    assert message.status == ErxStatus.NEEDS_MATCH
    assert message.prescriber is None and message.package is None
    assert message.candidates["prescriber"] == [world.prescriber.pk]  # same name
    assert set(message.candidates["package"]) == {world.package.pk, other_package.pk}
    notes = message.candidates["notes"]
    assert "NPI 1555555550" in notes["prescriber"]
    assert "NDC 00002-3227-99" in notes["package"]


def test_directions_our_sig_refuses_wait_for_a_technician(technician, site, world):
    receipt = receive(technician, newrx(site, sig="1 CAP PO QD"))
    message = receipt.message
    assert message.status == ErxStatus.NEEDS_MATCH and message.prescription is None
    assert message.patient == world.patient  # matched; only the directions need a look
    assert "Do Not Use" in message.candidates["notes"]["intake"]

    rx = services.erx_resolve(
        actor=technician, message=message, directions="1 CAP PO DAILY", days_supply=30
    )
    assert rx.directions_en == "Take 1 capsule by mouth once daily."
    message.refresh_from_db()
    assert message.status == ErxStatus.QUEUED and message.prescription == rx


def test_a_prescriber_without_a_dea_number_on_file_waits_for_a_controlled_drug(
    technician, site, world
):
    world.product.directory_dea_schedule = "CIV"
    world.product.save()
    Prescriber.objects.filter(pk=world.prescriber.pk).update(dea_number="")
    message = receive(technician, newrx(site, dea=DEA, refills=1)).message
    assert message.status == ErxStatus.NEEDS_MATCH
    assert "no DEA number on file" in message.status_note


# --- Resolving and rejecting -----------------------------------------------------------------


def test_resolve_adds_the_patient_from_the_message(technician, site, world):
    message = receive(technician, newrx(site, first="MARIA", last="RIVERA")).message
    assert message.status == ErxStatus.NEEDS_MATCH
    before = audit_count()

    rx = services.erx_resolve(actor=technician, message=message, create_patient=True)

    patient = rx.patient
    assert (patient.first_name, patient.last_name, patient.date_of_birth) == (
        "MARIA",
        "RIVERA",
        DOB,
    )
    assert (patient.city, patient.state, patient.postal_code, patient.phone_home) == (
        "CHICAGO",
        "IL",
        "60601",
        "3125550142",
    )
    assert rx.origin == Origin.ELECTRONIC and rx.fills.get().status == FillStatus.QUEUED
    message.refresh_from_db()
    assert (message.status, message.prescription, message.patient) == (
        ErxStatus.QUEUED,
        rx,
        patient,
    )
    assert message.handled_by == technician
    actions = list(
        AuditEvent.objects.filter(pk__gt=0).order_by("-id").values_list("action", flat=True)[:2]
    )
    assert actions == ["rx.erx.resolved", "patient.created"]
    assert audit_count() == before + 2

    with pytest.raises(Conflict):
        services.erx_resolve(actor=technician, message=message, patient=patient)
    assert Prescription.objects.count() == 1


def test_resolve_with_chosen_records_and_a_new_prescriber(technician, site, world):
    message = receive(technician, newrx(site, npi="1555555550", dea=None)).message
    rx = services.erx_resolve(
        actor=technician, message=message, create_prescriber=True, quantity_unit="EA"
    )
    assert rx.prescriber.npi == "1555555550" and rx.prescriber.last_name == "OKAFOR"
    assert rx.patient == world.patient and rx.package == world.package


def test_resolve_without_a_choice_names_the_field_and_changes_nothing(technician, site, world):
    message = receive(technician, newrx(site, ndc="00002322799", dob=dt.date(1990, 5, 5))).message
    before = counts()
    with pytest.raises(Invalid) as exc:
        services.erx_resolve(actor=technician, message=message)
    assert fields(exc) == {"patient", "package"}
    with pytest.raises(Invalid):
        services.erx_resolve(
            actor=technician, message=message, patient=world.patient, create_patient=True
        )
    assert counts() == before
    message.refresh_from_db()
    assert message.status == ErxStatus.NEEDS_MATCH


def test_resolve_refuses_a_bad_correction_and_keeps_the_patient_it_would_add(
    technician, site, world
):
    message = receive(technician, newrx(site, first="NEW", last="PERSON")).message
    patients = Patient.objects.count()
    with pytest.raises(Invalid) as exc:
        services.erx_resolve(
            actor=technician, message=message, create_patient=True, quantity_unit="ML"
        )
    assert fields(exc) == {"quantity_unit"}
    assert Patient.objects.count() == patients  # rolled back with the prescription


def test_reject_answers_with_an_error_and_closes_the_message(technician, site, world):
    message = receive(technician, newrx(site, dob=dt.date(1990, 5, 5))).message
    with pytest.raises(Invalid) as exc:
        services.erx_reject(actor=technician, message=message, reason="  ")
    assert fields(exc) == {"reason"}

    rejected = services.erx_reject(
        actor=technician, message=message, reason="Not our patient; sent to the wrong pharmacy."
    )
    assert rejected.status == ErxStatus.REJECTED
    assert rejected.status_note == "Not our patient; sent to the wrong pharmacy."
    error = script.parse(rejected.reply.xml)
    assert error.message_type is script.MessageType.ERROR
    assert error.body.code == "900" and error.header.relates_to_message_id == "NEWRX-0001"
    assert error.body.description.startswith("Not our patient")
    assert last_event().action == "rx.erx.rejected"
    assert Prescription.objects.count() == 0

    with pytest.raises(Conflict):
        services.erx_reject(actor=technician, message=rejected, reason="again")


def test_a_queued_message_cannot_be_rejected(technician, site, world):
    message = receive(technician, newrx(site)).message
    with pytest.raises(Conflict):
        services.erx_reject(actor=technician, message=message, reason="duplicate")


# --- CancelRx --------------------------------------------------------------------------------


def _cancel_answer(receipt: services.ErxReceipt) -> Any:
    answer = reply_of(receipt)
    assert answer.message_type is script.MessageType.CANCEL_RX_RESPONSE
    assert answer.header.relates_to_message_id == receipt.message.message_id
    return answer.body


def test_cancel_of_an_unfilled_prescription_is_approved(technician, site, world):
    rx = receive(technician, newrx(site)).message.prescription
    receipt = receive(technician, cancel_xml(site))

    body = _cancel_answer(receipt)
    assert body.approved
    rx.refresh_from_db()
    assert (rx.status, rx.inactive_reason) == (RxStatus.INACTIVE, InactiveReason.CANCELLED_ERX)
    assert rx.fills.get().status == FillStatus.CANCELLED
    message = receipt.message
    assert message.status == ErxStatus.APPLIED and message.prescription == rx
    assert message.reply.status == ErxStatus.SENT
    assert message.reply.message_type == "CancelRxResponse"
    event = last_event()
    assert event.action == "rx.erx.cancel_applied" and event.patient_id == rx.patient_id
    assert json.loads(event.data)["approved"] is True


def test_cancel_found_by_relates_to_message_id(technician, site, world):
    rx = receive(technician, newrx(site, pon=None)).message.prescription
    receipt = receive(technician, cancel_xml(site, pon=None, relates_to="NEWRX-0001"))
    assert _cancel_answer(receipt).approved
    rx.refresh_from_db()
    assert rx.status == RxStatus.INACTIVE


def test_cancel_after_a_fill_stops_the_remaining_refills(technician, site, world):
    rx = receive(technician, newrx(site)).message.prescription
    dispense(first_fill(rx), site.today())
    receipt = receive(technician, cancel_xml(site))
    body = _cancel_answer(receipt)
    assert body.approved
    assert body.note == (
        f"Previously dispensed on {site.today():%m/%d/%Y}; remaining refills cancelled."
    )
    rx.refresh_from_db()
    assert rx.status == RxStatus.INACTIVE


def test_cancel_of_a_fully_dispensed_prescription_is_denied_ah(technician, site, world):
    rx = receive(technician, newrx(site, refills=0)).message.prescription
    dispense(first_fill(rx), site.today())
    receipt = receive(technician, cancel_xml(site))
    body = _cancel_answer(receipt)
    assert not body.approved and body.reason_code == "AH"
    assert "dispensed in full" in body.reason_text
    rx.refresh_from_db()
    assert rx.status == RxStatus.ACTIVE
    assert receipt.message.status == ErxStatus.APPLIED


def test_cancel_of_a_transferred_prescription_names_the_pharmacy(
    technician, pharmacist, site, world
):
    rx = receive(technician, newrx(site)).message.prescription
    services.transfer_out(
        actor=pharmacist,
        prescription=rx,
        other=services.OtherPharmacy(
            name="Elm Street Pharmacy", address="12 Elm St", pharmacist="Dana Lee, RPh"
        ),
    )
    receipt = receive(technician, cancel_xml(site))
    body = _cancel_answer(receipt)
    assert not body.approved and body.reason_code == "AG"
    assert "Elm Street Pharmacy" in body.reason_text
    assert "Elm Street Pharmacy" in receipt.message.status_note


def test_cancel_of_an_unknown_prescription_is_denied(technician, site, world):
    receipt = receive(technician, cancel_xml(site, pon="ORD-NOPE"))
    body = _cancel_answer(receipt)
    assert not body.approved and body.reason_code == "AE"
    assert receipt.message.status == ErxStatus.APPLIED
    assert "ORD-NOPE" in receipt.message.status_note
    assert last_event().action == "rx.erx.cancel_applied"


def test_cancel_for_another_patient_is_denied_and_changes_nothing(technician, site, world):
    rx = receive(technician, newrx(site)).message.prescription
    body = _cancel_answer(receive(technician, cancel_xml(site, last="SMITH")))
    assert not body.approved
    rx.refresh_from_db()
    assert rx.status == RxStatus.ACTIVE


def test_cancel_of_a_newrx_still_waiting_closes_it(technician, site, world):
    waiting = receive(technician, newrx(site, dob=dt.date(1990, 5, 5))).message
    body = _cancel_answer(receive(technician, cancel_xml(site)))
    assert body.approved
    waiting.refresh_from_db()
    assert waiting.status == ErxStatus.REJECTED and "Cancelled by the prescriber" in (
        waiting.status_note
    )


def test_a_cancel_replayed_gives_the_same_answer(technician, site, world):
    receive(technician, newrx(site))
    first = receive(technician, cancel_xml(site))
    again = receive(technician, cancel_xml(site))
    assert not again.created and again.reply_xml == first.reply_xml


# --- Renewals --------------------------------------------------------------------------------


@pytest.fixture
def outbox(tmp_path, settings):
    settings.RXDESK_ERX_OUTBOX = str(tmp_path / "outbox")
    return tmp_path / "outbox"


def _out_of_refills(technician, site, **over: Any) -> Prescription:
    rx = receive(technician, newrx(site, refills=0, **over)).message.prescription
    assert rx is not None
    dispense(first_fill(rx), site.today())
    return rx


def test_a_renewal_is_not_asked_while_refills_remain(technician, site):
    rx = make_rx(technician)
    before = counts()
    with pytest.raises(Conflict) as exc:
        services.renewal_request_create(actor=technician, prescription=rx)
    assert "can still be filled (5 refills left)" in exc.value.message
    assert counts() == before


def test_a_renewal_request_goes_to_the_prescriber(technician, site, world, outbox):
    rx = _out_of_refills(technician, site)
    request = services.renewal_request_create(
        actor=technician, prescription=rx, note="Patient out of medication."
    )
    assert request.direction == "out" and request.status == ErxStatus.SENT
    assert request.message_type == "RxRenewalRequest" and request.prescription == rx
    sent = script.parse(request.xml)
    assert sent.message_type is script.MessageType.RX_RENEWAL_REQUEST
    assert sent.header.to == SENDER  # back to where the NewRx came from
    assert sent.header.from_ == script.Endpoint("P", site.ncpdp_id)
    assert sent.header.rx_reference_number == str(rx.number)
    assert sent.header.prescriber_order_number == "ORD-0001"
    body = sent.body
    assert body.dispensed.ndc == NDC and body.dispensed.last_fill_date == site.today()
    assert body.dispensed.note == "Patient out of medication."
    assert body.prescriber.npi == NPI and body.patient.date_of_birth == DOB
    assert (outbox / f"{request.message_id}.xml").read_bytes() == request.xml.encode()
    assert last_event().action == "rx.erx.renewal_requested"

    with pytest.raises(Conflict) as exc:
        services.renewal_request_create(actor=technician, prescription=rx)
    assert "still waiting" in exc.value.message


def test_a_renewal_is_not_asked_when_the_prescriber_forbade_it(technician, site, world):
    rx = _out_of_refills(technician, site, prohibit_renewal=True)
    with pytest.raises(Conflict) as exc:
        services.renewal_request_create(actor=technician, prescription=rx)
    assert "asked not to be sent renewal requests" in exc.value.message


def test_a_renewal_of_a_typed_prescription_goes_to_the_npi(technician, site):
    rx = make_rx(technician, refills_authorized=0)
    dispense(first_fill(rx), site.today())
    request = services.renewal_request_create(actor=technician, prescription=rx)
    assert script.parse(request.xml).header.to == script.Endpoint("D", rx.prescriber.npi)


def _renewed(technician, site) -> tuple[Prescription, ErxMessage]:
    rx = _out_of_refills(technician, site)
    return rx, services.renewal_request_create(actor=technician, prescription=rx)


def test_an_approved_renewal_makes_a_new_prescription(technician, site, world):
    old, request = _renewed(technician, site)
    receipt = receive(technician, renewal_response_xml(site, relates_to=request.message_id))
    message = receipt.message
    assert message.status == ErxStatus.APPLIED
    new = message.prescription
    assert new is not None and new.pk != old.pk and new.replaces == old
    assert new.origin == Origin.ELECTRONIC and new.prescriber_order_number == "ORD-0002"
    assert (new.quantity, new.days_supply, new.refills_authorized) == (Decimal("30"), 30, 0)
    assert new.fills.get().status == FillStatus.QUEUED
    old.refresh_from_db()
    assert (old.status, old.inactive_reason) == (RxStatus.INACTIVE, InactiveReason.REPLACED)
    assert reply_of(receipt).body.code == "010"
    assert last_event().action == "rx.erx.renewal_applied"
    request.refresh_from_db()
    assert request.reply == message

    with pytest.raises(Conflict):  # no second request: this one is answered and replaced
        services.renewal_request_create(actor=technician, prescription=old)


def test_approved_with_changes_takes_the_new_refills(technician, site, world):
    old, request = _renewed(technician, site)
    xml = renewal_response_xml(
        site,
        relates_to=request.message_id,
        decision="ApprovedWithChanges",
        note="3 refills",
        med=med_xml(site, refills=3, quantity="90", days=90),
    )
    new = receive(technician, xml).message.prescription
    assert new is not None and new.replaces == old
    assert (new.quantity, new.days_supply, new.refills_authorized) == (Decimal("90"), 90, 3)


def test_a_denied_renewal_leaves_the_old_prescription_with_the_reason(technician, site, world):
    old, request = _renewed(technician, site)
    xml = renewal_response_xml(
        site,
        relates_to=request.message_id,
        decision="Denied",
        reason_code="AM",
        reason="Patient needs an appointment.",
    )
    receipt = receive(technician, xml)
    assert receipt.message.status == ErxStatus.APPLIED
    assert receipt.message.prescription == old
    old.refresh_from_db()
    assert (old.status, old.inactive_reason) == (
        RxStatus.INACTIVE,
        InactiveReason.RENEWAL_DENIED,
    )
    assert old.status_note == "Renewal denied (AM): Patient needs an appointment."
    assert Prescription.objects.count() == 1
    assert last_event().action == "rx.erx.renewal_applied"


def test_a_replace_renewal_uses_the_new_drug(technician, site, world):
    old, request = _renewed(technician, site)
    product = ProductFactory(name="Prozac", strength="40 mg/1")
    package = PackageFactory(product=product, ndc10="0002-3228-30")
    xml = renewal_response_xml(
        site,
        relates_to=request.message_id,
        decision="Replace",
        med=med_xml(site, ndc=package.ndc11, description="Prozac 40 mg capsule", refills=1),
    )
    new = receive(technician, xml).message.prescription
    assert new is not None and new.replaces == old
    assert (new.package, new.product, new.refills_authorized) == (package, product, 1)


def test_a_replace_with_an_unknown_drug_waits_then_resolves(technician, site, world):
    old, request = _renewed(technician, site)
    xml = renewal_response_xml(
        site,
        relates_to=request.message_id,
        decision="Replace",
        med=med_xml(site, ndc="00002999901", description="Prozac 40 mg capsule"),
    )
    message = receive(technician, xml).message
    assert message.status == ErxStatus.NEEDS_MATCH and message.candidates["replaces"] == old.pk
    other = PackageFactory(product=world.product, ndc10="0002-3227-90")
    new = services.erx_resolve(actor=technician, message=message, package=other)
    assert new.replaces == old and new.package == other and new.patient == old.patient
    old.refresh_from_db()
    assert old.inactive_reason == InactiveReason.REPLACED
    message.refresh_from_db()
    assert message.status == ErxStatus.APPLIED and message.prescription == new


def test_a_renewal_answer_to_an_unknown_request_waits_for_a_technician(technician, site, world):
    receipt = receive(technician, renewal_response_xml(site, relates_to="RXDNOSUCH"))
    assert receipt.message.status == ErxStatus.NEEDS_MATCH
    assert "RXDNOSUCH" in receipt.message.status_note
    assert Prescription.objects.count() == 0


def test_an_error_about_our_request_ends_its_wait(technician, site, world):
    rx, request = _renewed(technician, site)
    body = "<Error><Code>900</Code><Description>Unknown prescriber</Description></Error>"
    xml = ENVELOPE.format(header=_header(site, "ERR-1", request.message_id, None), body=body)
    receipt = receive(technician, xml)
    assert receipt.message.status == ErxStatus.RECORDED and receipt.reply_xml == ""
    request.refresh_from_db()
    assert "Unknown prescriber" in request.status_note
    again = services.renewal_request_create(actor=technician, prescription=rx)
    assert again.pk != request.pk


def test_a_status_acknowledgement_is_recorded(technician, site, world):
    rx, request = _renewed(technician, site)
    body = "<Status><Code>010</Code></Status>"
    xml = ENVELOPE.format(header=_header(site, "ST-1", request.message_id, None), body=body)
    receipt = receive(technician, xml)
    assert receipt.message.status == ErxStatus.RECORDED and receipt.message.prescription == rx
    request.refresh_from_db()
    assert request.reply is None  # still waiting for the prescriber's answer


def test_a_message_a_pharmacy_sends_is_not_received(technician, site, world):
    _rx, request = _renewed(technician, site)
    xml = request.xml.replace(f'<To Qualifier="D">{SENDER.value}</To>', "").replace(
        f'<From Qualifier="P">{site.ncpdp_id}</From>',
        f'<To Qualifier="P">{site.ncpdp_id}</To><From Qualifier="D">X</From>',
    )
    with pytest.raises(Invalid) as exc:
        receive(technician, xml)
    assert fields(exc) == {"Body"}


# --- Who may ---------------------------------------------------------------------------------


FORBIDDEN = ["inventory", "auditor", "admin_user"]


@pytest.mark.parametrize("persona", FORBIDDEN)
def test_forbidden_roles_cannot_receive(request, site, world, persona):
    before = counts()
    with pytest.raises(Forbidden):
        receive(request.getfixturevalue(persona), newrx(site))
    assert counts() == before


@pytest.mark.parametrize("persona", ["technician", "trainee", "pharmacist", "pic"])
def test_intake_roles_may_receive(request, site, world, persona):
    assert receive(request.getfixturevalue(persona), newrx(site)).created


@pytest.mark.parametrize("persona", FORBIDDEN)
def test_forbidden_roles_cannot_resolve_or_reject(request, technician, site, world, persona):
    message = receive(technician, newrx(site, dob=dt.date(1990, 5, 5))).message
    actor = request.getfixturevalue(persona)
    before = counts()
    with pytest.raises(Forbidden):
        services.erx_resolve(actor=actor, message=message, patient=world.patient)
    with pytest.raises(Forbidden):
        services.erx_reject(actor=actor, message=message, reason="no")
    assert counts() == before


@pytest.mark.parametrize("persona", FORBIDDEN)
def test_forbidden_roles_cannot_ask_for_a_renewal(request, technician, site, world, persona):
    rx = _out_of_refills(technician, site)
    before = counts()
    with pytest.raises(Forbidden):
        services.renewal_request_create(actor=request.getfixturevalue(persona), prescription=rx)
    assert counts() == before


def test_another_pharmacy_sees_nothing(technician, outsider, site, world):
    waiting = receive(technician, newrx(site, dob=dt.date(1990, 5, 5))).message
    rx = _out_of_refills(technician, site, message_id="NEWRX-0002", pon="ORD-9")
    before = counts()
    with pytest.raises(NotFound):
        services.erx_resolve(actor=outsider, message=waiting, patient=world.patient)
    with pytest.raises(NotFound):
        services.erx_reject(actor=outsider, message=waiting, reason="no")
    with pytest.raises(NotFound):
        services.renewal_request_create(actor=outsider, prescription=rx)
    with pytest.raises(NotFound):
        services.erx_receive(actor=outsider, xml=newrx(site, message_id="X9"), site=site)
    with pytest.raises(Invalid) as exc:  # addressed to the other pharmacy
        receive(outsider, newrx(site, message_id="X9"))
    assert fields(exc) == {"Header/To"}
    assert counts() == before


def test_our_patient_cannot_be_chosen_by_another_pharmacy(technician, outsider, site, world):
    foreign = PatientFactory(site=outsider.site)
    waiting = receive(technician, newrx(site, dob=dt.date(1990, 5, 5))).message
    with pytest.raises(NotFound):
        services.erx_resolve(actor=technician, message=waiting, patient=foreign)


def test_the_operator_receives_only_from_the_command_line(site, world):
    with pytest.raises(Forbidden):
        services.erx_receive(actor=None, xml=newrx(site), site=site)
    with context.using(context.RequestInfo(request_id="cli", channel="cli")):
        with pytest.raises(Invalid) as exc:
            services.erx_receive(actor=None, xml=newrx(site))
        assert fields(exc) == {"site"}
        receipt = services.erx_receive(
            actor=None, xml=newrx(site, dob=dt.date(1990, 5, 5)), site=site
        )
    assert receipt.message.status == ErxStatus.NEEDS_MATCH
    event = last_event()
    assert (event.actor_kind, event.action) == ("system", "rx.erx.received")


def test_the_operator_queues_a_matched_prescription(site, world):
    with context.using(context.RequestInfo(request_id="cli", channel="cli")):
        receipt = services.erx_receive(actor=None, xml=newrx(site), site=site)
    assert receipt.message.status == ErxStatus.QUEUED
    rx = receipt.message.prescription
    assert rx is not None and rx.entered_by is None


# --- Concurrency -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
def test_deliveries_racing_each_other_make_one_prescription(transactional_db):
    site = SiteFactory()
    tech = UserFactory(site=site, role=Role.TECHNICIAN, username="tech-erx-race")
    product = ProductFactory()
    PackageFactory(product=product)
    PatientFactory(site=site, first_name="Jane", last_name="Doe", date_of_birth=DOB)
    PrescriberFactory(site=site, dea_number=DEA)
    xml = newrx(site)
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[services.ErxReceipt] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def deliver(n: int) -> None:
        try:
            with context.using(context.RequestInfo(request_id=f"race-{n}", channel="api")):
                barrier.wait()
                receipt = services.erx_receive(actor=tech, xml=xml)
            with lock:
                results.append(receipt)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(r.created for r in results) == 1
    assert len({r.reply_xml for r in results}) == 1
    assert ErxMessage.objects.filter(direction="in").count() == 1
    assert Prescription.objects.count() == 1 and Fill.objects.count() == 1
