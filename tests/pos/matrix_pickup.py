"""Permission-matrix rows for the point of sale (pickup): API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the specification:

* will-call, pickups and their records are every prescription worker's (rx.sell: technician,
  trainee, pharmacist, PIC); the inventory specialist, auditor and admin see no will-call;
* counseling is the pharmacist's and the PIC's (pos.counsel);
* deliveries and manifests: technician, trainee, pharmacist, PIC (pos.deliver);
* return to stock: whoever fills (rx.fill);
* households are patient edits (patient.edit)."""

from __future__ import annotations

import base64
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.pos.models import Delivery, Manifest, Pickup, Sale, SaleLine
from rxdesk.pos.services import delivery as deliveries
from rxdesk.pos.services import pickup as pickups
from rxdesk.rx.models import Fill
from tests.factories import PatientFactory, UserFactory
from tests.pos.factories import price, ready_fill, signature

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
CLINICAL = frozenset({T, TT, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1"
PP = f"{P}/pos"
ADDRESS = {
    "address_line1": "12 Elm St",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62704",
}


def _signature() -> str:
    return "data:image/png;base64," + base64.b64encode(signature()).decode()


def _clerk(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-pickup-tech").first() or UserFactory(
        site=site, role=T, username="matrix-pickup-tech"
    )


def _rph(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-pickup-rph").first() or UserFactory(
        site=site, role=RPH, username="matrix-pickup-rph"
    )


def _fill(site: Site, amount: str = "0.00") -> Fill:
    fill = ready_fill(_clerk(site), _rph(site))
    Patient.objects.filter(pk=fill.prescription.patient_id).update(**ADDRESS)
    fill.prescription.patient.refresh_from_db()
    price(fill.prescription.package, amount)
    return fill


def _sale(site: Site) -> Sale:
    fill = _fill(site)
    return pickups.pickup_start(actor=_clerk(site), patient=fill.prescription.patient, fills=[fill])


def _sale_waiting(site: Site) -> Sale:
    sale = _sale(site)
    pickups.pickup_record(
        actor=_clerk(site),
        sale=sale,
        person="patient",
        person_name="",
        date_of_birth=sale.patient.date_of_birth,  # type: ignore[union-attr]
        second_identifier="address",
        counseling="accepted",
        signature=signature(),
    )
    return sale


def _delivery(site: Site, method: str = "courier") -> Delivery:
    fill = _fill(site)
    return deliveries.delivery_create(
        actor=_clerk(site), patient=fill.prescription.patient, fills=[fill], method=method
    )


def _manifest(site: Site) -> Manifest:
    return deliveries.manifest_create(
        actor=_clerk(site), deliveries=[_delivery(site)], driver_name="Lee"
    )


def _out(site: Site) -> Delivery:
    manifest = _manifest(site)
    deliveries.manifest_depart(actor=_clerk(site), manifest=manifest)
    return manifest.deliveries.get()


def _pickup_body(sale: Sale) -> dict[str, Any]:
    return {
        "person": "patient",
        "date_of_birth": sale.patient.date_of_birth.isoformat(),  # type: ignore[union-attr]
        "second_identifier": "address",
        "counseling": "declined",
        "signature": _signature(),
    }


def _household_member(site: Site) -> Patient:
    a, b = PatientFactory(site=site), PatientFactory(site=site)
    from rxdesk.patients.services import patient_household_join

    patient_household_join(actor=_clerk(site), patient=a, with_patient=b)
    return a


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/pos/will-call"): (CLINICAL, 200, lambda s, u: (f"{PP}/will-call?q=doe", None)),
    ("GET", "/pos/will-call/patients/{patient_id}"): (
        CLINICAL,
        200,
        lambda s, u: (f"{PP}/will-call/patients/{_fill(s).prescription.patient_id}", None),
    ),
    ("POST", "/pos/pickups"): (
        CLINICAL,
        201,
        lambda s, u: (
            (f := _fill(s)) and f"{PP}/pickups",
            {"patient_id": f.prescription.patient_id, "fill_ids": [f.pk]},
        ),
    ),
    ("POST", "/pos/sales/{sale_id}/pickup"): (
        CLINICAL,
        201,
        lambda s, u: ((sale := _sale(s)) and f"{PP}/sales/{sale.pk}/pickup", _pickup_body(sale)),
    ),
    ("POST", "/pos/sales/{sale_id}/counseling"): (
        PHARMACISTS,
        200,
        lambda s, u: (
            f"{PP}/sales/{_sale_waiting(s).pk}/counseling",
            {"note": "Reviewed the directions and side effects."},
        ),
    ),
    ("GET", "/pos/counseling"): (PHARMACISTS, 200, lambda s, u: (f"{PP}/counseling", None)),
    ("POST", "/pos/deliveries"): (
        CLINICAL,
        201,
        lambda s, u: (
            (f := _fill(s)) and f"{PP}/deliveries",
            {"patient_id": f.prescription.patient_id, "fill_ids": [f.pk]},
        ),
    ),
    ("POST", "/pos/manifests"): (
        CLINICAL,
        201,
        lambda s, u: (
            f"{PP}/manifests",
            {"delivery_ids": [_delivery(s).pk], "driver_name": "Lee"},
        ),
    ),
    ("POST", "/pos/manifests/{manifest_id}/depart"): (
        CLINICAL,
        200,
        lambda s, u: (f"{PP}/manifests/{_manifest(s).pk}/depart", None),
    ),
    ("GET", "/pos/manifests/{manifest_id}/pdf"): (
        CLINICAL,
        200,
        lambda s, u: (f"{PP}/manifests/{_manifest(s).pk}/pdf", None),
    ),
    ("POST", "/pos/deliveries/{delivery_id}/complete"): (
        CLINICAL,
        200,
        lambda s, u: (
            f"{PP}/deliveries/{_out(s).pk}/complete",
            {"person": "patient", "signature": _signature()},
        ),
    ),
    ("POST", "/pos/deliveries/{delivery_id}/fail"): (
        CLINICAL,
        200,
        lambda s, u: (f"{PP}/deliveries/{_out(s).pk}/fail", {"reason": "Nobody home"}),
    ),
    ("POST", "/pos/deliveries/{delivery_id}/ship"): (
        CLINICAL,
        200,
        lambda s, u: (
            f"{PP}/deliveries/{_delivery(s, 'mail').pk}/ship",
            {"tracking_number": "1Z999AA10123456784"},
        ),
    ),
    ("GET", "/pos/return-to-stock"): (CLINICAL, 200, lambda s, u: (f"{PP}/return-to-stock", None)),
    ("POST", "/pos/return-to-stock"): (
        CLINICAL,
        200,
        lambda s, u: (
            (f := _fill(s)) and f"{PP}/return-to-stock",
            {"codes": [f"{f.prescription.number}-{f.number}"]},
        ),
    ),
    ("POST", "/patients/{patient_id}/household"): (
        CLINICAL,
        200,
        lambda s, u: (
            f"{P}/patients/{PatientFactory(site=s).pk}/household",
            {"with_patient_id": PatientFactory(site=s).pk},
        ),
    ),
    ("DELETE", "/patients/{patient_id}/household"): (
        CLINICAL,
        200,
        lambda s, u: (f"{P}/patients/{_household_member(s).pk}/household", None),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _pk(row: Any) -> dict[str, Any]:
    return {"pk": row.pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form).
# Buttons posted empty are refused by their service and say so on the page they came from
# (302); forms posted empty are shown again with what is missing (422). Departing a run
# needs nothing more than the button (302).
UI_ROWS: dict[Any, Any] = {
    "pos_deliveries": (_none, CLINICAL, NOBODY, None),
    "pos_delivery_create": (_none, None, CLINICAL, 302),
    "pos_delivery_record": (lambda s: _pk(_out(s)), CLINICAL, CLINICAL, 422),
    "pos_delivery_fail": (lambda s: _pk(_delivery(s)), None, CLINICAL, 302),
    "pos_delivery_ship": (lambda s: _pk(_delivery(s, "mail")), None, CLINICAL, 302),
    "pos_manifest_create": (_none, None, CLINICAL, 302),
    "pos_manifest_depart": (lambda s: _pk(_manifest(s)), None, CLINICAL, 302),
    "pos_manifest_pdf": (lambda s: _pk(_manifest(s)), CLINICAL, NOBODY, None),
    "pos_return_to_stock": (_none, CLINICAL, CLINICAL, 422),
    "pos_counseling": (_none, PHARMACISTS, NOBODY, None),
    "pos_counseling_record": (lambda s: _pk(_sale_waiting(s)), PHARMACISTS, PHARMACISTS, 422),
    "pos_household_join": (lambda s: _pk(PatientFactory(site=s)), None, CLINICAL, 302),
    "pos_household_leave": (lambda s: _pk(_household_member(s)), None, CLINICAL, 302),
}
WATCHED: list[Any] = [Sale, SaleLine, Pickup, Delivery, Manifest]
