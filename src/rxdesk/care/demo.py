"""Demo patient-care records for the Riverside demo pharmacy, made through the services:
point-of-care testing set up (CLIA certificate, strep and flu tests), a medication
reconciliation waiting for the pharmacist, counseling at pickup, an open intervention, a
near miss caught at final verification, a prescriber's call waiting for a callback and a
negative strep test."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from rxdesk.care.choices import (
    CounselingMethod,
    CounselingOutcome,
    CounselingTopic,
    ErrorType,
    HistorySource,
    InquiryChannel,
    InquiryParty,
    InquiryTopic,
    MedRecReason,
    PocResult,
    WorkflowStep,
)
from rxdesk.care.models import CareSettings, MedRec
from rxdesk.care.services_counsel import counseling_record, intervention_record
from rxdesk.care.services_inquiries import inquiry_open
from rxdesk.care.services_medrec import (
    medrec_import_fills,
    medrec_item_add,
    medrec_start,
    medrec_submit,
)
from rxdesk.care.services_poct import care_settings_set, poct_record
from rxdesk.care.services_quality import medication_error_report
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription


def demo_care_load(site: Site) -> None:
    if MedRec.objects.filter(site=site).exists():
        return
    users = {u.username: u for u in User.objects.filter(site=site)}
    tech, rph, pic = users.get("tech"), users.get("pharmacist"), users.get("pic")
    if tech is None or rph is None or pic is None:
        return
    patients = list(Patient.objects.filter(site=site).order_by("pk")[:4])
    if len(patients) < 3:
        return
    if not CareSettings.objects.filter(site=site, poct_enabled=True).exists():
        care_settings_set(
            actor=pic,
            poct_enabled=True,
            clia_certificate="14D0987654",
            clia_expires=site.today() + dt.timedelta(days=500),
            poct_tests=["strep_a", "flu_a", "flu_b", "covid_ag", "hba1c"],
            technicians_perform_poct=True,
            callback_hours=4,
        )
    now = timezone.now()
    first, second, third = patients[0], patients[1], patients[2]

    medrec = medrec_start(
        actor=tech, patient=first, reason=MedRecReason.NEW_PATIENT, interviewed="the patient"
    )
    medrec_import_fills(actor=tech, medrec=medrec, days=365)
    medrec_item_add(
        actor=tech,
        medrec=medrec,
        source=HistorySource.INTERVIEW,
        drug_name="Ibuprofen",
        strength="200 mg",
        dose="2 tablets",
        route="by mouth",
        frequency="as needed for back pain",
        taking="as_needed",
        note="Over the counter, about three times a week",
    )
    medrec_submit(actor=tech, medrec=medrec)

    rx = Prescription.objects.filter(site=site, patient=second).order_by("pk").first()
    counseling_record(
        actor=rph,
        patient=second,
        outcome=CounselingOutcome.ACCEPTED,
        prescription=rx,
        method=CounselingMethod.IN_PERSON,
        topics=[
            CounselingTopic.NAME_PURPOSE,
            CounselingTopic.DIRECTIONS,
            CounselingTopic.SIDE_EFFECTS,
        ],
        minutes=4,
    )
    if rx is not None:
        intervention_record(
            actor=rph,
            patient=second,
            prescription=rx,
            problem="RX",
            problem_detail="Directions say 'as directed'; the quantity does not match a dose.",
            action="M0",
            prescriber=rx.prescriber,
            prescriber_contacted_at=now - dt.timedelta(minutes=30),
            minutes=6,
        )
        inquiry_open(
            actor=tech,
            channel=InquiryChannel.PHONE,
            incoming=False,
            party=InquiryParty.PRESCRIBER,
            topic=InquiryTopic.CLARIFICATION,
            summary="Left a message with the nurse: clarify the directions (dose per day).",
            prescription=rx,
            contact_name="Office nurse",
            callback_due=now + dt.timedelta(hours=2),
        )
    medication_error_report(
        actor=rph,
        step=WorkflowStep.FILL,
        caught_at_step=WorkflowStep.FINAL_VERIFICATION,
        error_type=ErrorType.WRONG_STRENGTH,
        category="B",
        description="The 20 mg bottle was picked for a 10 mg prescription; the barcode "
        "check at final verification stopped it.",
        occurred_at=now - dt.timedelta(hours=3),
        discovered_at=now - dt.timedelta(hours=2, minutes=50),
        immediate_action="Refilled with the right strength; shelf tags checked.",
    )
    poct_record(
        actor=tech,
        patient=third,
        test_code="strep_a",
        specimen="throat swab",
        collected_at=now - dt.timedelta(minutes=15),
        kit_lot="SA24117",
        kit_expiry=site.today() + dt.timedelta(days=200),
        kit_name="Rapid strep A antigen",
        result=PocResult.NEGATIVE,
    )
