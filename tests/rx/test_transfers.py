"""Transfers in and out: what both pharmacies record, the one-time rule for Schedules III–V,
Schedule II e-prescriptions, and who may transfer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.rx import queries, services
from rxdesk.rx.choices import FillSource, FillStatus, Origin, RxStatus
from rxdesk.rx.models import Prescription, Transfer
from tests.conftest import last_event
from tests.rx.factories import dispense, first_fill, make_rx, typed

pytestmark = pytest.mark.django_db

ELM = services.OtherPharmacy(
    name="Elm Street Pharmacy",
    address="12 Elm St, Springfield IL 62701",
    pharmacist="Dana Lee, RPh",
    phone="217-555-0100",
    ncpdp_id="1234567",
    dea_number="FE1234563",
    rx_number="880123",
)


def _intake(site, **over):
    values = typed(site, **over)
    values.pop("origin", None)
    return services.Intake(origin=Origin.PHARMACY, **values)


def _days_ago(site, n):
    return site.today() - dt.timedelta(days=n)


def test_transfer_in_keeps_the_history_and_only_the_refills_left(pharmacist, site):
    intake = _intake(site, date_written=_days_ago(site, 90), refills_authorized=5)
    rx = services.transfer_in(
        actor=pharmacist,
        intake=intake,
        other=ELM,
        original_refills_authorized=5,
        refills_remaining=2,
        first_fill_date=_days_ago(site, 90),
        last_fill_date=_days_ago(site, 28),
    )
    assert rx.origin == Origin.PHARMACY and rx.date_written == _days_ago(site, 90)
    # 6 fills authorized, 4 used elsewhere (fills 0–3), so 2 are left: this one and one more.
    assert rx.dispensed_elsewhere == Decimal("120")
    fill = rx.fills.get()
    assert (fill.number, fill.source) == (4, FillSource.TRANSFER)
    row = rx.transfers.get()
    assert (row.direction, row.pharmacy_name, row.other_pharmacist, row.pharmacist) == (
        "in",
        "Elm Street Pharmacy",
        "Dana Lee, RPh",
        pharmacist,
    )
    assert (row.refills_remaining, row.last_fill_date, row.pharmacy_phone) == (
        2,
        _days_ago(site, 28),
        "2175550100",
    )
    state = queries.rx_state(rx, site.today())
    assert state.quantity_remaining == Decimal("30")  # one more after the queued fill
    assert last_event().action == "rx.transfer.in"


def test_an_unfilled_prescription_transfers_in_whole(pharmacist, site):
    rx = services.transfer_in(
        actor=pharmacist,
        intake=_intake(site, refills_authorized=3),
        other=ELM,
        original_refills_authorized=3,
        refills_remaining=3,
    )
    assert rx.dispensed_elsewhere == 0 and rx.fills.get().number == 0
    assert rx.transfers.get().refills_remaining == 4  # the original fill and 3 refills


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"refills_remaining": 7}, "refills_remaining"),
        ({"original_refills_authorized": 120}, "original_refills_authorized"),
        ({"last_fill_date": "future"}, "last_fill_date"),
        ({"first_fill_date": "before"}, "first_fill_date"),
    ],
)
def test_transfer_in_bad_history_names_the_field(pharmacist, site, over, field):
    kwargs = {"original_refills_authorized": 5, "refills_remaining": 2}
    kwargs.update(over)
    if kwargs.get("last_fill_date") == "future":
        kwargs["last_fill_date"] = site.today() + dt.timedelta(days=2)
    if kwargs.get("first_fill_date") == "before":
        kwargs["first_fill_date"] = _days_ago(site, 30)
    with pytest.raises(Invalid) as exc:
        services.transfer_in(
            actor=pharmacist,
            intake=_intake(site, date_written=_days_ago(site, 10)),
            other=ELM,
            **kwargs,
        )
    assert field in {e["field"] for e in exc.value.errors}
    assert not Prescription.objects.exists() and not Transfer.objects.exists()


def test_transfer_in_of_a_controlled_substance_needs_their_dea(pharmacist, site):
    other = services.OtherPharmacy(name="Elm", address="12 Elm St", pharmacist="Dana Lee")
    with pytest.raises(Invalid) as exc:
        services.transfer_in(
            actor=pharmacist,
            intake=_intake(site, schedule="CIV", refills_authorized=2),
            other=other,
            original_refills_authorized=2,
            refills_remaining=2,
            first_fill_date=site.today(),
        )
    assert {e["field"] for e in exc.value.errors} == {"pharmacy_dea"}
    assert not Prescription.objects.exists()


def test_a_paper_cii_cannot_be_transferred_in(pharmacist, site):
    with pytest.raises(Invalid) as exc:
        services.transfer_in(
            actor=pharmacist,
            intake=_intake(site, schedule="CII", refills_authorized=0),
            other=ELM,
            original_refills_authorized=0,
            refills_remaining=0,
        )
    assert "origin" in {e["field"] for e in exc.value.errors}
    rx = services.transfer_in(
        actor=pharmacist,
        intake=_intake(site, schedule="CII", refills_authorized=0),
        other=ELM,
        original_refills_authorized=0,
        refills_remaining=0,
        electronic_original=True,
    )
    assert rx.schedule == "CII"


def test_technicians_cannot_record_a_transfer(technician, trainee, site):
    for actor in (technician, trainee):
        with pytest.raises(Forbidden):
            services.transfer_in(
                actor=actor,
                intake=_intake(site),
                other=ELM,
                original_refills_authorized=5,
                refills_remaining=5,
            )
    rx = make_rx(technician)
    with pytest.raises(Forbidden):
        services.transfer_out(actor=technician, prescription=rx, other=ELM)
    assert rx.transfers.count() == 0


def test_transfer_out_inactivates_here_and_records_what_is_left(technician, pharmacist, site):
    rx = make_rx(technician, refills_authorized=3)
    dispense(first_fill(rx), _days_ago(site, 40))
    refill = services.refill_request(actor=technician, prescription=rx).fill
    dispense(refill, _days_ago(site, 10))
    waiting = services.refill_request(actor=technician, prescription=rx).fill  # too soon

    row = services.transfer_out(actor=pharmacist, prescription=rx, other=ELM)

    rx.refresh_from_db()
    waiting.refresh_from_db()
    assert rx.status == RxStatus.TRANSFERRED and "Elm Street" in rx.status_note
    assert waiting.status == FillStatus.CANCELLED
    assert (row.direction, row.refills_remaining, row.original_refills_authorized) == ("out", 2, 3)
    assert (row.first_fill_date, row.last_fill_date) == (_days_ago(site, 40), _days_ago(site, 10))
    assert row.pharmacist == pharmacist and row.pharmacy_dea == "FE1234563"
    assert last_event().action == "rx.transfer.out"
    with pytest.raises(Conflict):
        services.transfer_out(actor=pharmacist, prescription=rx, other=ELM)


def test_a_controlled_prescription_transfers_once_only(pharmacist, site):
    rx = services.transfer_in(
        actor=pharmacist,
        intake=_intake(
            site, schedule="CIV", refills_authorized=3, date_written=_days_ago(site, 40)
        ),
        other=ELM,
        original_refills_authorized=3,
        refills_remaining=2,
        first_fill_date=_days_ago(site, 30),
        last_fill_date=_days_ago(site, 30),
    )
    with pytest.raises(Conflict) as exc:
        services.transfer_out(actor=pharmacist, prescription=rx, other=ELM)
    assert "1306.25" in exc.value.message
    assert Prescription.objects.get(pk=rx.pk).status == RxStatus.ACTIVE
    # Pharmacies sharing a real-time database may move it back and forth.
    row = services.transfer_out(actor=pharmacist, prescription=rx, other=ELM, shared_database=True)
    assert row.shared_database


def test_a_dispensed_cii_cannot_be_transferred(technician, pharmacist, site):
    rx = make_rx(technician, schedule="CII", refills_authorized=0, origin=Origin.ELECTRONIC)
    dispense(first_fill(rx), site.today())
    with pytest.raises(Conflict) as exc:
        services.transfer_out(actor=pharmacist, prescription=rx, other=ELM)
    assert "Schedule II" in exc.value.message


def test_an_unfilled_electronic_cii_may_be_transferred_once(technician, pharmacist, site):
    rx = make_rx(technician, schedule="CII", refills_authorized=0, origin=Origin.ELECTRONIC)
    row = services.transfer_out(actor=pharmacist, prescription=rx, other=ELM)
    assert row.refills_remaining == 0 and row.first_fill_date is None
    paper = make_rx(technician, schedule="CII", refills_authorized=0, origin=Origin.WRITTEN)
    with pytest.raises(Conflict) as exc:
        services.transfer_out(actor=pharmacist, prescription=paper, other=ELM)
    assert "electronic" in exc.value.message


def test_transfer_out_of_another_sites_prescription_is_not_found(technician, other_site):
    from tests.factories import UserFactory

    rx = make_rx(technician)
    their_rph = UserFactory(site=other_site, role="pharmacist", username="their-rph")
    with pytest.raises(NotFound):
        services.transfer_out(actor=their_rph, prescription=rx, other=ELM)


def test_transfer_out_needs_the_other_pharmacy_named(technician, pharmacist):
    rx = make_rx(technician)
    with pytest.raises(Invalid) as exc:
        services.transfer_out(
            actor=pharmacist,
            prescription=rx,
            other=services.OtherPharmacy(name=" ", address="", pharmacist=""),
        )
    assert {e["field"] for e in exc.value.errors} == {
        "pharmacy_name",
        "pharmacy_address",
        "other_pharmacist",
    }
    assert Prescription.objects.get(pk=rx.pk).status == RxStatus.ACTIVE


def test_settings_are_the_pics_and_checked(pic, technician):
    row = services.rx_settings_update(actor=pic, refill_threshold_percent=85, cii_expiry_days=90)
    assert (row.refill_threshold_percent, row.cii_expiry_days) == (85, 90)
    with pytest.raises(Invalid) as exc:
        services.rx_settings_update(actor=pic, refill_threshold_percent=30)
    assert exc.value.errors[0]["field"] == "refill_threshold_percent"
    with pytest.raises(Forbidden):
        services.rx_settings_update(actor=technician, refill_threshold_percent=90)
    assert last_event().action == "rx.settings.updated"


def test_a_state_cii_expiry_applies_to_new_prescriptions(pic, technician, site):
    services.rx_settings_update(actor=pic, cii_expiry_days=90)
    with pytest.raises(Invalid) as exc:
        make_rx(technician, schedule="CII", refills_authorized=0, date_written=_days_ago(site, 100))
    assert "date_written" in {e["field"] for e in exc.value.errors}
