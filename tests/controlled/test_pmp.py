"""Reporting controlled dispensings to the state PMP: the daily ASAP 4.2 file read back and
checked field by field against the database, zero reports, voids after a return to stock,
resends, catch-up, the ad-hoc range file, missing data, roles, the file's status."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from rxdesk.claims.choices import ClaimStatus
from rxdesk.claims.models import Claim
from rxdesk.controlled import asap, queries_pmp
from rxdesk.controlled.choices import PmpAction, PmpKind, PmpStatus
from rxdesk.controlled.models import PmpRecord, PmpSubmission
from rxdesk.controlled.services_pmp import (
    describe,
    pmp_daily,
    pmp_file_read,
    pmp_range,
    pmp_status_set,
)
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.patients.models import Coverage, PatientIdentifier
from rxdesk.rx.models import Fill
from rxdesk.rx.services import workflow
from rxdesk.rx.services.fills import fill_cancel
from tests.claims.matrix_pa import plan
from tests.conftest import audit_count, last_event
from tests.controlled.matrix_pmp import (
    SITE_DEA,
    SITE_NPI,
    clerk_of,
    home,
    pharmacist_of,
    pmp_ready,
    ready_fill,
    sell,
)
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db


def _kept() -> tuple[int, int, int]:
    return PmpSubmission.objects.count(), PmpRecord.objects.count(), audit_count()


def _dsp(file: asap.AsapFile) -> list[tuple[asap.Patient, asap.Dispensing]]:
    return [
        (p.patient, d) for report in file.pharmacies for p in report.patients for d in p.dispensings
    ]


@pytest.fixture
def ready_site(site):
    return pmp_ready(site)


@pytest.fixture
def rph(ready_site):
    return pharmacist_of(ready_site)


# --- The daily file, field by field ------------------------------------------------------------


def test_the_days_file_reports_each_controlled_fill_field_by_field(ready_site, rph):
    site = ready_site
    cii = sell(ready_fill(site, schedule="CII"))  # picked up by the spouse, with a licence
    civ = ready_fill(site, schedule="CIV")  # still in will-call
    plain = sell(ready_fill(site, schedule=""), id_shown=False, person="patient")
    PatientIdentifier.objects.create(
        patient=civ.prescription.patient, kind="drivers_license", value="s123-456", issuer="IL"
    )
    today = site.today()

    made = pmp_daily(actor=rph, day=today)

    file = asap.read(made.content)
    # TH, IS, TT: the kept row and the text agree.
    assert file.version == "4.2" and file.production is True
    assert file.control_number == made.control_number == "000000001"
    assert file.transaction_type == asap.TransactionType.SEND
    assert file.created.date() == today
    assert (file.source.id, file.source.name) == ("7654321", "RIVERSIDE TEST PHARMACY")
    assert file.source.message == ""
    # PHA: the site's identifiers and address.
    assert len(file.pharmacies) == 1
    pha = file.pharmacies[0].pharmacy
    assert (pha.npi, pha.ncpdp, pha.dea) == (SITE_NPI, "7654321", SITE_DEA)
    assert (pha.name, pha.address1, pha.address2) == (
        "RIVERSIDE TEST PHARMACY",
        "100 MAIN ST",
        "SUITE 2",
    )
    assert (pha.city, pha.state, pha.zip, pha.phone) == ("SPRINGFIELD", "IL", "62701", "2175550100")
    # Two controlled fills, two patients; the non-controlled fill is not there.
    records = _dsp(file)
    assert [d.rx_number for _, d in records] == [
        str(cii.prescription.number),
        str(civ.prescription.number),
    ]
    assert str(plain.prescription.number) not in made.content.split("*")
    for fill, (pat, dsp) in zip([cii, civ], records, strict=True):
        fill.refresh_from_db()
        rx = fill.prescription
        patient, prescriber = rx.patient, rx.prescriber
        # PAT
        assert (pat.last_name, pat.first_name) == (
            patient.last_name.upper(),
            patient.first_name.upper(),
        )
        assert (pat.address1, pat.city, pat.state, pat.zip) == (
            "12 ELM ST",
            "SPRINGFIELD",
            "IL",
            "62704",
        )
        assert pat.phone == patient.phone_mobile == "2175550199"
        assert pat.birth_date == patient.date_of_birth
        assert pat.gender == asap.Gender.FEMALE and pat.species == asap.Species.HUMAN
        # DSP
        assert dsp.status == asap.ReportingStatus.NEW
        assert dsp.rx_number == str(rx.number)
        assert dsp.date_written == rx.date_written
        assert dsp.refills_authorized == rx.refills_authorized
        assert dsp.date_filled == fill.dispensed_on == today
        assert dsp.fill_number == fill.number == 0
        assert dsp.product_qualifier == asap.ProductQualifier.NDC
        assert dsp.ndc == fill.package.ndc11
        assert dsp.quantity == fill.quantity == Decimal(30)
        assert dsp.days_supply == fill.days_supply == 30
        assert dsp.unit == asap.Unit.EACH
        assert dsp.origin == asap.RxOrigin.WRITTEN
        assert dsp.partial_fill == "00"
        assert dsp.pharmacist_npi == ""
        assert dsp.pharmacist_license == fill.verified_by.pharmacist_license == "RPH-051.0099"
        assert dsp.payment_type == asap.PaymentType.PRIVATE_PAY  # no plan on file
        assert dsp.compound == ()
        # PRE
        pre = dsp.prescriber
        assert (pre.npi, pre.dea) == (prescriber.npi, prescriber.dea_number)
        assert (pre.last_name, pre.first_name) == ("OKAFOR", "MARGARET")
    # The refills and the sale differ between the two.
    assert records[0][1].refills_authorized == 0 and records[1][1].refills_authorized == 5
    assert records[0][1].date_sold == today and records[1][1].date_sold is None
    # AIR: who picked up the CII and the ID they showed; nothing for the fill not sold.
    air = records[0][1].additional
    assert air == asap.AdditionalInfo(
        id_jurisdiction="IL",
        id_qualifier="06",
        id="D98765432",
        relationship="03",
        last_name="DOE",
        first_name="JOHN Q",
        drop_off_pick_up="01",
    )
    assert records[1][1].additional is None
    # The patient's licence on file is the PAT ID; none for the other patient.
    assert (records[1][0].id_jurisdiction, records[1][0].id_qualifier, records[1][0].id) == (
        "IL",
        "06",
        "S123-456",
    )
    assert (records[0][0].id_qualifier, records[0][0].id) == ("", "")
    # TP: PHA + 2 × (PAT DSP PRE) + AIR + TP = 9; TT: TH IS + 9 + TT = 12.
    assert made.content.count("~") == 13  # TH09 holds one
    assert "~TP*9~" in made.content and made.content.endswith(f"TT*{made.control_number}*12~")
    # The kept row: verbatim, its digest, counts, one record per fill.
    assert made.kind == PmpKind.DAILY and made.state == "IL"
    assert (made.period_start, made.period_end) == (today, today)
    assert made.file_name == f"RXD{today:%Y%m%d}.dat"
    assert made.sha256 == hashlib.sha256(made.content.encode("ascii")).hexdigest()
    assert (made.dispensings, made.voids, made.status) == (2, 0, PmpStatus.CREATED)
    assert sorted(PmpRecord.objects.filter(submission=made).values_list("fill_id", "action")) == [
        (cii.pk, PmpAction.NEW),
        (civ.pk, PmpAction.NEW),
    ]
    event = last_event()
    assert event.action == "cs.pmp.created" and event.object_id == str(made.pk)
    assert event.actor_name == rph.username
    assert describe(made) == f"{today:%m/%d/%Y}: 2 dispensings — RXD{today:%Y%m%d}.dat"


def test_a_day_without_controlled_dispensing_gets_a_zero_report(ready_site, rph):
    site = ready_site
    sell(ready_fill(site, schedule=""), id_shown=False, person="patient")
    day = site.today() - dt.timedelta(days=3)
    made = pmp_daily(actor=rph, day=day)
    file = asap.read(made.content)
    assert file.source.message == f"#{day:%Y%m%d}#-#{day:%Y%m%d}#"
    ((pat, dsp),) = _dsp(file)
    assert pat.is_zero_report and (pat.last_name, pat.first_name) == ("REPORT", "ZERO")
    assert dsp.status == "" and dsp.rx_number == "" and dsp.date_filled == site.today()
    assert dsp.prescriber == asap.Prescriber()
    assert file.pharmacies[0].pharmacy.dea == SITE_DEA
    assert (made.kind, made.dispensings, made.voids) == (PmpKind.ZERO, 0, 0)
    assert not PmpRecord.objects.filter(submission=made).exists()
    assert describe(made).endswith("zero report (no controlled dispensing) — " + made.file_name)


def test_a_fill_counted_out_yesterday_is_not_in_todays_file(ready_site, rph):
    site = ready_site
    fill = ready_fill(site, schedule="CIV")
    Fill.objects.filter(pk=fill.pk).update(dispensed_on=site.today() - dt.timedelta(days=1))
    assert pmp_daily(actor=rph, day=site.today()).kind == PmpKind.ZERO
    yesterday = pmp_daily(actor=rph, day=site.today() - dt.timedelta(days=1))
    assert list(
        PmpRecord.objects.filter(submission=yesterday).values_list("fill_id", flat=True)
    ) == [fill.pk]


def test_the_products_schedule_in_force_makes_a_fill_reportable(ready_site, rph):
    # Taken in as non-controlled; the state then scheduled the product (override).
    fill = ready_fill(ready_site, schedule="")
    product = fill.prescription.product
    product.dea_schedule_override = "CV"
    product.save(update_fields=["dea_schedule_override"])
    made = pmp_daily(actor=rph, day=ready_site.today())
    assert made.dispensings == 1


# --- Voids -------------------------------------------------------------------------------------


def test_a_return_to_stock_after_reporting_sends_a_void_in_the_next_file(ready_site, rph):
    site = ready_site
    fill = ready_fill(site, schedule="CIV")
    first = pmp_daily(actor=rph, day=site.today())
    ((_, original),) = _dsp(asap.read(first.content))

    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        workflow.fill_return_to_stock(actor=clerk_of(site), fill=fill, reason="Not picked up")
        nxt = pmp_daily(actor=rph, day=site.today())
        again = pmp_daily(actor=rph, day=site.today(), again=True)
        later = pmp_range(
            actor=rph,
            start=site.today() - dt.timedelta(days=1),
            end=site.today(),
        )

    ((_, void),) = _dsp(asap.read(nxt.content))
    # The void repeats the record as reported, with DSP01 = 02.
    assert void.status == asap.ReportingStatus.VOID
    assert void == replace(original, status=asap.ReportingStatus.VOID)
    assert (void.rx_number, void.date_filled, void.quantity, void.fill_number, void.ndc) == (
        str(fill.prescription.number),
        first.period_start,
        Decimal(30),
        0,
        fill.package.ndc11,
    )
    assert (nxt.dispensings, nxt.voids, nxt.kind) == (0, 1, PmpKind.DAILY)
    assert list(PmpRecord.objects.filter(submission=nxt).values_list("fill_id", "action")) == [
        (fill.pk, PmpAction.VOID)
    ]
    assert describe(nxt).endswith(f": 0 dispensings, 1 void — {nxt.file_name}")
    # A resend of the void's day voids it again (it replaces the first void's file); after
    # that the fill is settled: nothing more to catch up.
    assert again.voids == 1 and queries_pmp.is_superseded(nxt)
    assert later == []


def test_a_fill_sent_back_after_reporting_is_voided_and_reported_again_when_refilled(
    ready_site, rph
):
    site = ready_site
    rx = make_rx(clerk_of(site), schedule="CIII")
    stock(site, rx.package, lot="PMP-LOT", quantity=500)
    fill = workflow.fill_data_verify(actor=rph, fill=first_fill(rx))
    fill = workflow.fill_product(actor=clerk_of(site), fill=fill, scanned_code=rx.package.ndc10)
    home(rx.patient)
    pmp_daily(actor=rph, day=site.today())
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        workflow.fill_final_verify(actor=rph, fill=fill, approve=False, reason="Wrong count")
        workflow.fill_product(
            actor=clerk_of(site), fill=fill, scanned_code=rx.package.ndc10, quantity="20"
        )
        made = pmp_daily(actor=rph, day=site.today())
    file = asap.read(made.content)
    (_, void), (_, new) = _dsp(file)
    assert (void.status, void.quantity, void.date_filled) == (
        "02",
        Decimal(30),
        made.period_start - dt.timedelta(days=1),
    )
    assert (new.status, new.quantity, new.date_filled) == ("00", Decimal(20), made.period_start)
    assert len(file.pharmacies[0].patients) == 1  # the same patient, written once
    assert list(PmpRecord.objects.filter(submission=made).values_list("action", flat=True)) == [
        PmpAction.VOID,
        PmpAction.NEW,
    ]


def test_a_fill_cancelled_before_it_was_counted_is_never_reported(ready_site, rph):
    site = ready_site
    rx = make_rx(clerk_of(site), schedule="CIV")
    fill_cancel(actor=clerk_of(site), fill=first_fill(rx), reason="Patient declined")
    assert pmp_daily(actor=rph, day=site.today()).kind == PmpKind.ZERO


# --- The same day twice ------------------------------------------------------------------------


def test_the_same_day_twice_is_refused_and_again_keeps_a_second_file(ready_site, rph):
    site = ready_site
    fill = ready_fill(site, schedule="CII")
    first = pmp_daily(actor=rph, day=site.today())
    before = _kept()
    with pytest.raises(Conflict) as exc:
        pmp_daily(actor=rph, day=site.today())
    assert exc.value.field == "day" and first.file_name in exc.value.message
    assert _kept() == before

    second = pmp_daily(actor=rph, day=site.today(), again=True)

    assert PmpSubmission.objects.count() == 2
    assert second.control_number == "000000002" != first.control_number
    assert second.file_name == f"RXD{site.today():%Y%m%d}-2.dat"
    assert second.dispensings == 1 and second.voids == 0
    assert list(PmpRecord.objects.filter(submission=second).values_list("fill_id", flat=True)) == [
        fill.pk
    ]
    assert queries_pmp.is_superseded(first) and not queries_pmp.is_superseded(second)
    assert queries_pmp.daily_file(site, "IL", site.today()) == second
    assert last_event().action == "cs.pmp.created"


def test_a_future_day_is_refused_naming_day(ready_site, rph):
    before = _kept()
    with pytest.raises(Invalid) as exc:
        pmp_daily(actor=rph, day=ready_site.today() + dt.timedelta(days=1))
    assert exc.value.errors[0]["field"] == "day"
    assert _kept() == before


# --- Missing data ------------------------------------------------------------------------------


def test_a_missing_site_dea_is_invalid_naming_it_and_nothing_is_kept(ready_site, rph):
    ready_site.dea_number = ""
    ready_site.save(update_fields=["dea_number"])
    before = _kept()
    with pytest.raises(Invalid) as exc:
        pmp_daily(actor=rph, day=ready_site.today())
    assert [e["field"] for e in exc.value.errors] == ["site.dea_number"]
    assert "DEA registration" in exc.value.message
    assert _kept() == before


def test_every_gap_of_the_file_is_named_at_once(ready_site, rph):
    site = ready_site
    fill = ready_fill(site, schedule="CIV")
    patient, prescriber = fill.prescription.patient, fill.prescription.prescriber
    patient.address_line1 = ""
    patient.postal_code = ""
    patient.save()
    prescriber.dea_number = ""
    prescriber.save()
    site.phone = ""
    site.save()
    before = _kept()
    with pytest.raises(Invalid) as exc:
        pmp_daily(actor=rph, day=site.today())
    assert sorted(e["field"] for e in exc.value.errors) == sorted(
        [
            f"patient.{patient.pk}.address_line1",
            f"patient.{patient.pk}.postal_code",
            f"prescriber.{prescriber.pk}.dea_number",
            "site.phone",
        ]
    )
    assert f"patient {patient.pk} ({patient.last_name}, {patient.first_name})" in exc.value.message
    assert _kept() == before


def test_a_catch_up_with_a_gap_makes_no_file_and_names_the_day(ready_site, rph):
    site = ready_site
    fill = ready_fill(site, schedule="CIV")
    fill.prescription.patient.city = ""
    fill.prescription.patient.save()
    before = _kept()
    with pytest.raises(Invalid) as exc:
        pmp_range(actor=rph, start=site.today() - dt.timedelta(days=2), end=site.today())
    assert exc.value.message.startswith(f"{site.today():%m/%d/%Y}: ")
    assert exc.value.errors[0]["field"] == f"patient.{fill.prescription.patient_id}.city"
    assert _kept() == before


# --- Roles and sites ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["technician", "trainee", "inventory", "auditor", "admin_user"])
def test_only_a_pharmacist_makes_pmp_files(request, role, ready_site):
    actor = request.getfixturevalue(role)
    before = _kept()
    with pytest.raises(Forbidden):
        pmp_daily(actor=actor, day=ready_site.today())
    with pytest.raises(Forbidden):
        pmp_range(actor=actor, start=ready_site.today(), end=ready_site.today())
    assert _kept() == before


def test_the_pharmacist_in_charge_may(ready_site, pic):
    assert pmp_daily(actor=pic, day=ready_site.today()).created_by == pic


def test_another_pharmacys_file_does_not_exist_here(ready_site, rph, other_site):
    made = pmp_daily(actor=rph, day=ready_site.today())
    stranger = pharmacist_of(pmp_ready(other_site))
    with pytest.raises(NotFound):
        queries_pmp.pmp_get(actor=stranger, submission_id=made.pk)
    before = _kept()
    with pytest.raises(NotFound):
        pmp_status_set(actor=stranger, submission=made, status="sent")
    with pytest.raises(NotFound):
        pmp_file_read(actor=stranger, submission=made)
    assert _kept() == before
    # Each pharmacy counts its own control numbers.
    assert pmp_daily(actor=stranger, day=other_site.today()).control_number == "000000001"


def test_the_operator_at_the_shell_must_name_the_site(cli_context, ready_site):
    with pytest.raises(Invalid) as exc:
        pmp_daily(actor=None, day=ready_site.today())
    assert exc.value.field == "site"
    made = pmp_daily(actor=None, site=ready_site, day=ready_site.today())
    assert made.created_by is None and last_event().actor_kind == "system"


def test_the_web_may_not_act_as_the_system(ready_site):
    with pytest.raises(Forbidden):
        pmp_daily(actor=None, site=ready_site, day=ready_site.today())


# --- Another state, payment, partial fills ----------------------------------------------------


def test_another_states_pmp_gets_its_residents_dispensings(ready_site, rph):
    site = ready_site
    local = ready_fill(site, schedule="CIV")
    visitor = ready_fill(site, schedule="CIV")
    visitor.prescription.patient.state = "KY"
    visitor.prescription.patient.save()
    kentucky = pmp_daily(actor=rph, day=site.today(), state="ky")
    home_state = pmp_daily(actor=rph, day=site.today())
    assert kentucky.state == "KY" and kentucky.file_name == f"RXDKY{site.today():%Y%m%d}.dat"
    assert [r.fill_id for r in queries_pmp.pmp_records(kentucky)] == [visitor.pk]
    assert sorted(r.fill_id for r in queries_pmp.pmp_records(home_state)) == sorted(
        [local.pk, visitor.pk]
    )
    assert "(KY PMP)" in describe(kentucky)
    with pytest.raises(Invalid) as exc:
        pmp_daily(actor=rph, day=site.today(), state="XX")
    assert exc.value.field == "state"


def _claim(fill: Fill, member: str, status: str = ClaimStatus.PAID) -> Claim:
    the_plan = plan()
    coverage = Coverage.objects.create(
        patient=fill.prescription.patient, bin=the_plan.bin, pcn=the_plan.pcn, member_id=member
    )
    return Claim.objects.create(
        site=fill.site,
        fill=fill,
        coverage=coverage,
        plan=the_plan,
        status=status,
        rx_number=fill.prescription.number,
        fill_number=fill.number,
        date_of_service=fill.dispensed_on,
        ndc=fill.package.ndc11,
        quantity=fill.quantity,
        days_supply=fill.days_supply,
        usual_customary=Decimal("18.99"),
        submitted_by=clerk_of(fill.site),
    )


def test_the_payment_type_follows_the_claim_as_far_as_the_data_tells(ready_site, rph):
    site = ready_site
    commercial, medicaid, reversed_ = (ready_fill(site, schedule="CIV") for _ in range(3))
    _claim(commercial, "ZZQ900112233")
    _claim(medicaid, "IL77001122")
    PatientIdentifier.objects.create(
        patient=medicaid.prescription.patient, kind="medicaid", value="il77001122"
    )
    _claim(reversed_, "ZZQ900112244", status=ClaimStatus.REVERSED)
    made = pmp_daily(actor=rph, day=site.today())
    payment = {d.rx_number: d.payment_type for _, d in _dsp(asap.read(made.content))}
    assert payment == {
        str(commercial.prescription.number): asap.PaymentType.COMMERCIAL_INSURANCE,
        str(medicaid.prescription.number): asap.PaymentType.MEDICAID,
        str(reversed_.prescription.number): asap.PaymentType.PRIVATE_PAY,
    }


def test_a_schedule_ii_partial_fill_is_numbered(ready_site, rph):
    site = ready_site
    rx = make_rx(clerk_of(site), schedule="CII", refills_authorized=0)
    home(rx.patient)
    stock(site, rx.package, lot="PMP-LOT", quantity=500)
    fill = workflow.fill_data_verify(actor=rph, fill=first_fill(rx))
    workflow.fill_product(
        actor=clerk_of(site),
        fill=fill,
        scanned_code=rx.package.ndc10,
        quantity="10",
        partial_reason="patient_request",
    )
    made = pmp_daily(actor=rph, day=site.today())
    ((_, dsp),) = _dsp(asap.read(made.content))
    assert (dsp.partial_fill, dsp.quantity) == ("01", Decimal(10))


# --- Catch-up and the ad-hoc range file --------------------------------------------------------


def test_catch_up_makes_a_file_for_each_day_without_one(ready_site, rph):
    site = ready_site
    today = site.today()
    middle = pmp_daily(actor=rph, day=today - dt.timedelta(days=2))
    ready_fill(site, schedule="CIV")

    made = pmp_range(actor=rph, start=today - dt.timedelta(days=3), end=today)

    assert [(s.period_start, s.kind) for s in made] == [
        (today - dt.timedelta(days=3), PmpKind.ZERO),
        (today - dt.timedelta(days=1), PmpKind.ZERO),
        (today, PmpKind.DAILY),
    ]
    assert middle.pk not in {s.pk for s in made}
    assert [s.control_number for s in made] == ["000000002", "000000003", "000000004"]
    assert pmp_range(actor=rph, start=today - dt.timedelta(days=3), end=today) == []


def test_a_range_is_checked_before_anything_is_made(ready_site, rph):
    today = ready_site.today()
    before = _kept()
    for start, end, field in (
        (today, today + dt.timedelta(days=1), "end"),
        (today, today - dt.timedelta(days=1), "end"),
        (today - dt.timedelta(days=366), today, "start"),
    ):
        with pytest.raises(Invalid) as exc:
            pmp_range(actor=rph, start=start, end=end)
        assert exc.value.field == field
    assert _kept() == before
    # 366 days is the most a period may cover (one file of it, to keep the test quick).
    (longest,) = pmp_range(
        actor=rph, start=today - dt.timedelta(days=365), end=today, single_file=True
    )
    assert (longest.period_start, longest.period_end) == (today - dt.timedelta(days=365), today)


def test_one_file_for_a_period_answers_a_state_request_without_touching_the_daily_files(
    ready_site, rph
):
    site = ready_site
    today = site.today()
    fill = ready_fill(site, schedule="CII")
    (ad_hoc,) = pmp_range(
        actor=rph, start=today - dt.timedelta(days=6), end=today, single_file=True
    )
    assert ad_hoc.kind == PmpKind.RANGE
    assert ad_hoc.file_name == f"RXD{today - dt.timedelta(days=6):%Y%m%d}-{today:%Y%m%d}.dat"
    assert [d.rx_number for _, d in _dsp(asap.read(ad_hoc.content))] == [
        str(fill.prescription.number)
    ]
    # The day still has no daily file: it is made (and reports the fill) as usual.
    assert pmp_daily(actor=rph, day=today).dispensings == 1
    (empty,) = pmp_range(
        actor=rph,
        start=today - dt.timedelta(days=20),
        end=today - dt.timedelta(days=10),
        single_file=True,
    )
    assert asap.read(empty.content).source.message == (
        f"#{today - dt.timedelta(days=20):%Y%m%d}#-#{today - dt.timedelta(days=10):%Y%m%d}#"
    )


# --- Status and download -----------------------------------------------------------------------


def test_a_file_is_marked_sent_then_accepted(ready_site, rph):
    made = pmp_daily(actor=rph, day=ready_site.today())
    sent = pmp_status_set(actor=rph, submission=made, status="sent")
    assert sent.status == PmpStatus.SENT and sent.sent_at is not None
    event = last_event()
    assert event.action == "cs.pmp.status" and '"status":["created","sent"]' in event.data
    accepted = pmp_status_set(actor=rph, submission=made, status="accepted", note="ack 123")
    assert (accepted.status, accepted.status_note) == (PmpStatus.ACCEPTED, "ack 123")
    before = _kept()
    with pytest.raises(Conflict) as exc:
        pmp_status_set(actor=rph, submission=made, status="rejected", note="late")
    assert exc.value.field == "status"
    assert _kept() == before


def test_a_rejection_needs_the_pmps_reason(ready_site, rph):
    made = pmp_daily(actor=rph, day=ready_site.today())
    before = _kept()
    for status, note, field in (
        ("rejected", "  ", "note"),
        ("created", "", "status"),
        ("x", "", "status"),
    ):
        with pytest.raises(Invalid) as exc:
            pmp_status_set(actor=rph, submission=made, status=status, note=note)
        assert exc.value.field == field
    with pytest.raises(Invalid):
        pmp_status_set(actor=rph, submission=made, status="sent", note="x" * 501)
    assert _kept() == before
    rejected = pmp_status_set(actor=rph, submission=made, status="rejected", note="Bad PAT18")
    assert rejected.status == PmpStatus.REJECTED and rejected.status_note == "Bad PAT18"


@pytest.mark.parametrize("role", ["technician", "auditor"])
def test_marking_and_reading_a_file_is_a_pharmacists(request, role, ready_site, rph):
    made = pmp_daily(actor=rph, day=ready_site.today())
    actor = request.getfixturevalue(role)
    before = _kept()
    with pytest.raises(Forbidden):
        pmp_status_set(actor=actor, submission=made, status="sent")
    with pytest.raises(Forbidden):
        pmp_file_read(actor=actor, submission=made)
    with pytest.raises(Forbidden):
        queries_pmp.pmp_submissions(actor=actor)
    assert _kept() == before


def test_reading_a_file_is_logged(ready_site, rph):
    made = pmp_daily(actor=rph, day=ready_site.today())
    n = AuditEvent.objects.count()
    assert pmp_file_read(actor=rph, submission=made) == made
    assert AuditEvent.objects.count() == n + 1
    assert last_event().action == "cs.pmp.file_read"


def test_the_list_marks_superseded_files(ready_site, rph):
    day = ready_site.today()
    first = pmp_daily(actor=rph, day=day)
    second = pmp_daily(actor=rph, day=day, again=True)
    rows = queries_pmp.pmp_submissions(actor=rph)
    assert [(r.submission.pk, r.superseded) for r in rows] == [(second.pk, False), (first.pk, True)]
