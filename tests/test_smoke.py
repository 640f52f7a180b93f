"""The app boots, the demo loads through the services, and its audit chain verifies."""

from rxdesk.catalog.models import Product
from rxdesk.compounding.models import (
    CompetencyResult,
    CompoundingRecord,
    CorrectiveAction,
    MasterFormula,
    RiskAssessment,
)
from rxdesk.controlled.models import (
    CsInventory,
    DailyLogSignoff,
    Form222Order,
    Investigation,
    PmpSubmission,
)
from rxdesk.core.audit import audit_verify
from rxdesk.core.models import User
from rxdesk.demo import DEMO_USERS, demo_load
from rxdesk.inventory.demo import STOCK
from rxdesk.inventory.ledger import ledger_verify
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.pos.demo import COUNTER_RX
from rxdesk.pos.models import Delivery, Drawer, HouseAccount, Pickup, PosSettings, Sale
from rxdesk.rx.demo import DEMO_PRESCRIPTIONS
from rxdesk.rx.models import ErxMessage, Fill, Prescription
from rxdesk.screening.demo import SCREENING_RX
from rxdesk.screening.models import FillAlert


def test_it_loads_the_demo_pharmacy_with_one_sign_in_per_role(db, cli_context):
    site = demo_load()
    assert User.objects.filter(site=site).count() == len(DEMO_USERS) == 7
    assert sorted(User.objects.values_list("role", flat=True)) == sorted(
        u.role.value for u in DEMO_USERS
    )
    # ten of the demo's own, and the three synthetic patients brought in over FHIR from
    # ../shared (rxdesk.fhir.demo) when the data sets are beside the checkout
    from rxdesk.fhir.demo import SYNTHEA
    from rxdesk.fhir.models import ImportRun, MedicationHistory, SourceLink

    imported = SourceLink.objects.filter(site=site, resource_type="Patient").count()
    assert imported == (3 if SYNTHEA.is_dir() else 0)
    assert Patient.objects.filter(site=site).count() == 10 + imported
    if imported:
        assert ImportRun.objects.get(site=site).status == "done"
        assert MedicationHistory.objects.filter(site=site).count() == 14
    assert Prescriber.objects.filter(site=site).count() == 8
    [report] = audit_verify()
    assert report.intact and report.events > 50
    # every demo lot is on a shelf, the ledger agrees with itself, a few fills went out
    # ... plus the Schedule II safe's opening lot and the lot its CSOS delivery brought,
    # the compounding components' three lots (rxdesk.compounding.demo) and the two
    # repackaged unit-dose lots (rxdesk.institutional.demo), and the two flu vaccine lots,
    # one private and one VFC (rxdesk.immunizations.demo)
    lots = sum(len(rows) for _, _, rows in STOCK) + 2 + 3 + 2 + 2
    assert StockBalance.objects.filter(site=site).count() == lots
    assert StockMove.objects.filter(site=site, reason="dispense").count() >= 4
    assert ledger_verify(site_id=site.pk) == (lots, [])
    # the controlled-substance records (rxdesk.controlled.demo): the CSOS order half
    # received against its receipt, a signed biennial inventory, a blind count two short
    # under investigation, yesterday's logs signed and its PMP file kept
    order = Form222Order.objects.get(site=site)
    assert (order.status, order.lines.get().packages_received) == ("partial", 1)
    assert CsInventory.objects.get(site=site).status == "signed"
    assert Investigation.objects.get(site=site).variance == -2
    assert DailyLogSignoff.objects.filter(site=site).count() == 2
    assert PmpSubmission.objects.filter(site=site).count() == 1
    # compounding (rxdesk.compounding.demo): two approved formulas, a cream verified and
    # labeled, a vancomycin bag waiting for the pharmacist, its components taken from stock,
    # a surface sample over its action level with its corrective action open, competency on
    # file, an assessment of risk
    assert set(MasterFormula.objects.filter(site=site).values_list("code", "status")) == {
        ("HC1CR", "approved"),
        ("VANC1G", "approved"),
    }
    records = dict(
        CompoundingRecord.objects.filter(site=site).values_list("formula__code", "status")
    )
    assert records == {"HC1CR": "verified", "VANC1G": "awaiting_verification"}
    assert CompoundingRecord.objects.get(formula__code="HC1CR").label_printed_at is not None
    assert StockMove.objects.filter(site=site, reason="compound").count() == 3
    assert CorrectiveAction.objects.filter(site=site, closed_at__isnull=True).count() == 1
    assert CompetencyResult.objects.filter(site=site).count() == 16
    assert RiskAssessment.objects.filter(site=site, active=True).count() == 1
    # institutional (rxdesk.institutional.demo): a facility with three residents (one on
    # leave), this week's cycle run, a cabinet stocked from the pharmacy with a day of
    # activity read from its file (an override to review, a count that did not match),
    # two repackaging runs (one checked); both ledgers agree with themselves
    from rxdesk.institutional import cabinet_ledger
    from rxdesk.institutional.models import (
        CabinetDiscrepancy,
        CabinetMove,
        CycleLine,
        RepackRecord,
        Resident,
    )

    assert sorted(Resident.objects.filter(site=site).values_list("status", flat=True)) == [
        "admitted",
        "admitted",
        "leave",
    ]
    assert CycleLine.objects.filter(run__site=site, status="skipped").count() == 1
    assert CycleLine.objects.filter(run__site=site, status="queued").count() >= 3
    assert CabinetMove.objects.filter(site=site, event="restock").count() == 4
    assert CabinetMove.objects.filter(site=site, override=True).count() == 1
    assert CabinetDiscrepancy.objects.filter(site=site, status="open").count() == 1
    assert sorted(RepackRecord.objects.filter(site=site).values_list("status", flat=True)) == [
        "checked",
        "made",
    ]
    assert cabinet_ledger.cabinet_verify(site_id=site.pk)[1] == []
    # immunizations (rxdesk.immunizations.demo): the CDC code sets, flu vaccine kept apart
    # by funding, a flu shot given (its VXU queued for the registry), a historical Tdap
    from rxdesk.immunizations.models import Immunization, RegistryMessage, Vaccine, VaccineLot

    assert Vaccine.objects.filter(cvx="140").exists()
    assert sorted(VaccineLot.objects.filter(site=site).values_list("funding", flat=True)) == [
        "private",
        "vfc",
    ]
    # the demo's own two (the FHIR import's historical doses come from its source records)
    imported_doses = SourceLink.objects.filter(site=site, resource_type="Immunization")
    assert sorted(
        Immunization.objects.filter(site=site)
        .exclude(pk__in=imported_doses.values("target_id"))
        .values_list("information_source", flat=True)
    ) == ["00", "02"]
    assert StockMove.objects.filter(site=site, reason="administer").count() == 1
    assert RegistryMessage.objects.get(site=site).status == "queued"
    # patient care (rxdesk.care.demo): a med rec waiting for the pharmacist, a near miss,
    # a callback owed, a negative strep test
    from rxdesk.care.models import Inquiry, MedRec, PocTestResult, SafetyEvent

    assert MedRec.objects.get(site=site).status == "review"
    assert SafetyEvent.objects.get(site=site).kind == "near_miss"
    assert Inquiry.objects.get(site=site).callback_due is not None
    assert PocTestResult.objects.get(site=site).result == "negative"
    # running the pharmacy (issue 14): skills and two training plans, three on duty, the
    # cleaning schedule, a 340B entity with its sold fills decided, a formulary with an
    # approved interchange protocol, one patient in med sync, outreach calls, and the
    # seven daily reports of yesterday (signed) and today
    from rxdesk.formulary.models import InterchangeProtocol
    from rxdesk.medsync.models import SyncEnrollment
    from rxdesk.operations.models import CleaningTask, DutyShift
    from rxdesk.outreach.models import OutreachContact
    from rxdesk.people.models import Skill, TrainingPlan
    from rxdesk.program340b.models import Capture, CoveredEntity
    from rxdesk.reports.models import DailyReport, DailyReview

    assert Skill.objects.filter(site=site).count() == 7
    assert TrainingPlan.objects.filter(site=site).count() == 2
    assert DutyShift.objects.filter(site=site, ended_at=None).count() == 3
    assert CleaningTask.objects.filter(site=site).count() == 6
    assert CoveredEntity.objects.get(site=site).opais_id == "DSH140001"
    assert Capture.objects.filter(entity__site=site).count() == 7
    assert InterchangeProtocol.objects.get(site=site).status == "approved"
    assert SyncEnrollment.objects.get(site=site).active
    assert OutreachContact.objects.filter(site=site).count() == 3
    assert DailyReport.objects.filter(site=site).count() == 14
    assert DailyReview.objects.filter(site=site).count() == 1
    # every demo prescription was taken in, plus one transferred in and the counter's new
    # one (rxdesk.pos.demo: Chen's atorvastatin; Garcia's amlodipine is refilled, not
    # written twice); one went out; and clinical screening's four (rxdesk.screening.demo)
    assert len(COUNTER_RX) == 2
    assert Prescription.objects.filter(site=site).count() == (
        len(DEMO_PRESCRIPTIONS) + 2 + 1 + len(SCREENING_RX)
    )
    amlodipine = Prescription.objects.filter(
        site=site, patient__last_name="Garcia", product__generic_name__icontains="amlodipine"
    )
    assert amlodipine.count() == 1
    assert amlodipine.get().fills.filter(status="ready").exists()
    assert Prescription.objects.filter(site=site, status="transferred").count() == 1
    assert Prescription.objects.filter(site=site, needs_review=True).exists()
    scheduled = Fill.objects.filter(site=site, status="scheduled")
    assert scheduled.exclude(source="cycle").count() == 1  # asked too soon
    assert scheduled.filter(source="cycle").count() == 1  # a cycle fill not due yet
    # two e-prescriptions: one matched and queued, one waiting to be matched
    assert sorted(
        ErxMessage.objects.filter(site=site, direction="in").values_list("status", flat=True)
    ) == ["needs_match", "queued"]
    # a fill waits at each step of the workflow
    waiting = set(Fill.objects.filter(site=site).values_list("status", flat=True))
    assert {"queued", "to_fill", "filled", "ready"} <= waiting
    # the counter: its rules, an open drawer, a house account, a paid sale with its signed
    # pickup, a delivery waiting for a driver, a behind-the-counter PSE product, bags to sell
    assert PosSettings.objects.filter(site=site).count() == 1
    assert Drawer.objects.get(site=site, status="open").opening_cash == 150
    assert HouseAccount.objects.filter(site=site).count() == 1
    sale = Sale.objects.get(site=site)
    assert sale.status == "completed" and sale.paid == sale.total > 0
    assert bytes(Pickup.objects.get(sale=sale).signature).startswith(b"\x89PNG")
    assert Delivery.objects.filter(site=site, status="pending").count() == 1
    assert Product.objects.filter(cmea=True, product_ndc="0113-0401").exists()
    assert Fill.objects.filter(site=site, status="ready").count() >= 2
    # clinical screening: Smith's new metronidazole waits behind an interrupting alert
    # (warfarin on his profile); Hernández's new omeprazole lists one (clopidogrel)
    alerts = FillAlert.objects.filter(site=site, type="DD", fill__status="queued")
    stop = alerts.get(fill__prescription__patient__last_name="Smith")
    assert (stop.severity, stop.interrupting, stop.resolved_at) == ("major", True, None)
    assert [d.split()[0] for d in stop.drugs] == ["metronidazole", "warfarin"]
    listed = alerts.get(fill__prescription__patient__last_name="Hernández")
    assert (listed.severity, listed.interrupting) == ("moderate", False)
    assert [d.split()[0] for d in listed.drugs] == ["omeprazole", "clopidogrel"]
    # claims: four plans behind the test payer's port, cards on eight patients (Washington
    # has two), list prices for the fills to bill; no claim yet (the demo command bills once
    # its test payer runs: tests/claims/test_demo.py)
    from rxdesk.claims.models import Claim, Plan
    from rxdesk.patients.models import Coverage

    assert Plan.objects.count() == 4
    assert Coverage.objects.filter(patient__site=site).count() == 9
    assert not Claim.objects.exists()
    # loading twice changes nothing
    moves = StockMove.objects.count()
    rxs = Prescription.objects.count()
    assert demo_load().pk == site.pk
    assert Patient.objects.count() == 10 + imported
    assert StockMove.objects.count() == moves
    assert Prescription.objects.count() == rxs
    assert Sale.objects.count() == 1
    assert Coverage.objects.count() == 9
    assert DailyReport.objects.count() == 14
