"""Taking a prescription in: every origin, the rules of each schedule, the bad input the
issue names, images, holds and inactivation."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.rx import services
from rxdesk.rx.choices import FillStatus, Origin, RxStatus
from rxdesk.rx.models import Fill, Prescription, PrescriptionImage
from tests.conftest import audit_count, last_event
from tests.rx.factories import make_rx, parts, typed

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _fields(exc: pytest.ExceptionInfo[Invalid]) -> set[str]:
    return {e["field"] for e in exc.value.errors}


def _nothing_created(before: tuple[int, int, int]) -> None:
    assert (Prescription.objects.count(), Fill.objects.count(), audit_count()) == before


def _counts() -> tuple[int, int, int]:
    return Prescription.objects.count(), Fill.objects.count(), audit_count()


@pytest.mark.parametrize(
    "origin", [Origin.WRITTEN, Origin.TELEPHONE, Origin.ELECTRONIC, Origin.FACSIMILE]
)
def test_each_origin_is_taken_in_with_its_first_fill_queued(technician, site, origin):
    rx = make_rx(technician, origin=origin)

    assert rx.origin == origin and rx.status == RxStatus.ACTIVE
    assert rx.directions_en == "Take 1 capsule by mouth once daily."
    assert rx.directions_es == "Tome 1 cápsula por vía oral una vez al día."
    assert rx.expires_on == rx.date_written.replace(year=rx.date_written.year + 1)
    fill = rx.fills.get()
    assert (fill.number, fill.status, fill.quantity) == (0, FillStatus.QUEUED, Decimal("30"))
    event = last_event()
    assert event.action == "rx.created" and event.patient_id == rx.patient_id
    data = json.loads(event.data)
    assert data["origin"] == origin and data["fill_id"] == fill.pk


def test_rx_numbers_count_up_per_site(technician, outsider, site):
    first, second = make_rx(technician), make_rx(technician)
    elsewhere = make_rx(outsider)
    assert second.number == first.number + 1
    assert elsewhere.number == 1  # each pharmacy numbers its own


def test_free_text_directions_are_kept_and_flagged_for_the_pharmacist(technician):
    rx = make_rx(technician, directions="use as directed by your doctor")
    assert rx.needs_review
    assert rx.directions_flags and rx.directions_flags[0]["message"]


@pytest.mark.parametrize("directions", ["1 T PO QD", "1.0 T PO BID", ".5 T PO BID", "10 U SC QHS"])
def test_do_not_use_abbreviations_are_refused_naming_directions(technician, site, directions):
    before = _counts()
    with pytest.raises(Invalid) as exc:
        make_rx(technician, directions=directions)
    assert "directions" in _fields(exc)
    _nothing_created(before)


def test_days_supply_that_disagrees_with_directions_is_warned_not_refused(technician):
    rx = make_rx(technician, days_supply=90)
    assert "Days supply 90" in rx.days_supply_warning and "type 30" in rx.days_supply_warning
    assert make_rx(technician, days_supply=30).days_supply_warning == ""


def test_cii_with_refills_is_refused_naming_the_field(technician, site):
    before = _counts()
    with pytest.raises(Invalid) as exc:
        make_rx(technician, schedule="CII", refills_authorized=2)
    assert "refills_authorized" in _fields(exc)
    assert "21 CFR 1306.12" in exc.value.message
    _nothing_created(before)


def test_cii_by_telephone_needs_the_emergency_rule(technician):
    with pytest.raises(Invalid) as exc:
        make_rx(technician, schedule="CII", refills_authorized=0, origin=Origin.TELEPHONE)
    assert _fields(exc) == {"origin"}
    rx = make_rx(
        technician,
        schedule="CII",
        refills_authorized=0,
        origin=Origin.TELEPHONE,
        emergency_oral=True,
    )
    assert rx.emergency_oral and rx.schedule == "CII"


def test_civ_allows_at_most_five_refills(technician):
    with pytest.raises(Invalid) as exc:
        make_rx(technician, schedule="CIV", refills_authorized=6)
    assert _fields(exc) == {"refills_authorized"}
    assert make_rx(technician, schedule="CIV", refills_authorized=5).expires_on is not None


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-5"}, "quantity"),
        ({"quantity": "1000000"}, "quantity"),
        ({"quantity": "ten"}, "quantity"),
        ({"quantity": "NaN"}, "quantity"),
        ({"days_supply": 0}, "days_supply"),
        ({"days_supply": 400}, "days_supply"),
        ({"refills_authorized": 100}, "refills_authorized"),
        ({"quantity_unit": "TAB"}, "quantity_unit"),
        ({"quantity_unit": "ML"}, "quantity_unit"),  # the package is counted in EA
        ({"daw": 11}, "daw"),
        ({"origin": 9}, "origin"),
        ({"directions": "   "}, "directions"),
        ({"diagnosis_code": "diabetes"}, "diagnosis_code"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(technician, over, field):
    before = _counts()
    with pytest.raises(Invalid) as exc:
        make_rx(technician, **over)
    assert field in _fields(exc)
    _nothing_created(before)


def test_a_date_written_in_the_future_is_refused(technician, site):
    with pytest.raises(Invalid) as exc:
        make_rx(technician, date_written=site.today() + dt.timedelta(days=1))
    assert _fields(exc) == {"date_written"}


def test_an_expired_prescription_cannot_be_taken_in(technician, site):
    with pytest.raises(Invalid) as exc:
        make_rx(technician, date_written=site.today() - dt.timedelta(days=400))
    assert "date_written" in _fields(exc) and "expired" in exc.value.message.lower()


def test_controlled_prescription_needs_the_prescribers_dea(technician, site):
    values = typed(site, schedule="CIV", refills_authorized=1)
    values["prescriber"].dea_number = ""
    values["prescriber"].save()
    with pytest.raises(Invalid) as exc:
        services.prescription_create(actor=technician, **values)
    assert _fields(exc) == {"prescriber"} and "DEA" in exc.value.message


def test_a_dea_number_that_is_not_the_prescribers_is_refused(technician, site):
    with pytest.raises(Invalid) as exc:
        make_rx(technician, schedule="CIV", refills_authorized=1, prescriber_dea="AB1234563")
    assert _fields(exc) == {"prescriber_dea"}
    rx = make_rx(technician, schedule="CIV", refills_authorized=1, prescriber_dea="bo1234563")
    assert rx.schedule == "CIV"


def test_a_distributor_registration_cannot_prescribe(technician, site):
    values = typed(site, schedule="CIII", refills_authorized=1)
    values["prescriber"].dea_number = "PO1234563"
    values["prescriber"].save()
    with pytest.raises(Invalid) as exc:
        services.prescription_create(actor=technician, **values)
    assert "distributor" in exc.value.message


def test_a_package_of_another_product_is_refused(technician, site):
    other = parts(site)["package"]
    with pytest.raises(Invalid) as exc:
        make_rx(technician, package=other)
    assert _fields(exc) == {"package"}


def test_a_transfer_origin_is_refused_here(technician):
    with pytest.raises(Invalid) as exc:
        make_rx(technician, origin=Origin.PHARMACY)
    assert _fields(exc) == {"origin"}


def test_an_inactive_patient_or_prescriber_is_refused(technician, site):
    values = typed(site)
    values["patient"].status = "deceased"
    values["patient"].save()
    values["prescriber"].active = False
    values["prescriber"].save()
    with pytest.raises(Invalid) as exc:
        services.prescription_create(actor=technician, **values)
    assert _fields(exc) == {"patient", "prescriber"}


def test_another_sites_patient_is_not_found(technician, outsider):
    values = typed(outsider.site)
    with pytest.raises(NotFound):
        services.prescription_create(actor=technician, **values)


def test_do_not_fill_before_waits_until_that_day(technician, site):
    later = site.today() + dt.timedelta(days=20)
    rx = make_rx(
        technician, schedule="CII", refills_authorized=0, do_not_fill_before=later, days_supply=30
    )
    fill = rx.fills.get()
    assert fill.status == FillStatus.SCHEDULED and fill.fillable_on == later


def test_hold_instead_of_queueing(technician):
    rx = make_rx(technician, hold=True, hold_reason="profile")
    assert rx.status == RxStatus.ON_HOLD and not rx.fills.exists()
    with pytest.raises(Invalid) as exc:
        make_rx(technician, hold=True, hold_reason="")
    assert _fields(exc) == {"hold_reason"}


@pytest.mark.parametrize("role", ["inventory", "auditor", "admin_user"])
def test_roles_without_prescription_work_are_refused(request, role, site):
    actor = request.getfixturevalue(role)
    before = _counts()
    with pytest.raises(Forbidden):
        services.prescription_create(actor=actor, **typed(site))
    _nothing_created(before)


def test_a_trainee_may_type_a_prescription(trainee):
    assert make_rx(trainee).entered_by == trainee


# --- images --------------------------------------------------------------------------------


def test_an_uploaded_scan_is_attached_when_the_prescription_is_saved(technician):
    image = services.prescription_image_upload(actor=technician, content=PNG, filename="rx.png")
    assert image.content_type == "image/png" and image.prescription is None
    rx = make_rx(technician, images=(image,))
    image.refresh_from_db()
    assert image.prescription == rx
    assert AuditEvent.objects.filter(action="rx.image.uploaded").count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"<html>hi</html>", "PDF, PNG"), (PNG + b"0" * (10 * 1024 * 1024), "10 MB")],
)
def test_bad_uploads_are_refused_naming_image(technician, content, message):
    with pytest.raises(Invalid) as exc:
        services.prescription_image_upload(actor=technician, content=content)
    assert exc.value.errors[0]["field"] == "image" and message in exc.value.message
    assert not PrescriptionImage.objects.exists()


def test_an_image_already_attached_cannot_be_attached_again(technician):
    image = services.prescription_image_upload(actor=technician, content=PNG)
    make_rx(technician, images=(image,))
    before = _counts()
    with pytest.raises(Invalid) as exc:
        make_rx(technician, images=(image,))
    assert _fields(exc) == {"images"}
    _nothing_created(before)


def test_auditor_cannot_upload(auditor):
    with pytest.raises(Forbidden):
        services.prescription_image_upload(actor=auditor, content=PNG)


# --- status --------------------------------------------------------------------------------


def test_hold_cancels_the_waiting_fill_and_activate_lifts_it(technician):
    rx = make_rx(technician)
    held = services.prescription_hold(
        actor=technician, prescription=rx, reason="waiting_prescriber", note="called Dr"
    )
    assert held.status == RxStatus.ON_HOLD
    assert rx.fills.get().status == FillStatus.CANCELLED
    with pytest.raises(Conflict):
        services.prescription_hold(actor=technician, prescription=rx, reason="profile")
    active = services.prescription_activate(actor=technician, prescription=rx)
    assert active.status == RxStatus.ACTIVE and active.hold_reason == ""


def test_hold_needs_a_reason(technician):
    rx = make_rx(technician)
    with pytest.raises(Invalid) as exc:
        services.prescription_hold(actor=technician, prescription=rx, reason="because")
    assert _fields(exc) == {"reason"}
    assert Prescription.objects.get(pk=rx.pk).status == RxStatus.ACTIVE


def test_inactivate_stops_the_prescription(technician):
    rx = make_rx(technician, auto_refill=True)
    done = services.prescription_inactivate(
        actor=technician, prescription=rx, reason="entered_in_error"
    )
    assert done.status == RxStatus.INACTIVE and not done.auto_refill
    assert rx.fills.get().status == FillStatus.CANCELLED
    assert last_event().action == "rx.inactivated"
    with pytest.raises(Conflict):
        services.prescription_inactivate(actor=technician, prescription=rx, reason="discontinued")


def test_inactivate_refuses_reasons_kept_for_messages(technician):
    rx = make_rx(technician)
    with pytest.raises(Invalid):
        services.prescription_inactivate(actor=technician, prescription=rx, reason="cancelled_erx")


def test_status_changes_are_refused_to_other_roles_and_sites(technician, auditor, outsider):
    rx = make_rx(technician)
    with pytest.raises(Forbidden):
        services.prescription_hold(actor=auditor, prescription=rx, reason="profile")
    with pytest.raises(NotFound):
        services.prescription_inactivate(actor=outsider, prescription=rx, reason="discontinued")
