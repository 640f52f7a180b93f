"""Permission-matrix rows for the counter screens (same shape as
tests/test_permission_matrix_ui.py's UI_MATRIX; WATCHED lists models whose row counts must
not change on a refused POST). Written by hand from the specification:

* the four roles that hand out prescriptions (rx.sell: technician, trainee, pharmacist,
  pharmacist-in-charge) work the counter; the inventory specialist, the auditor and the
  administrator see none of it (HIPAA minimum necessary);
* only a pharmacist records the counseling (pos.counsel), though the whole counter sees the
  page that waits for it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.pos.choices import LineKind, SaleStatus
from rxdesk.pos.models import Pickup, Sale, SaleLine, Tender
from rxdesk.pos.services.common import add_line
from tests.factories import PatientFactory, UserFactory
from tests.pos.factories import otc_package
from tests.rx.factories import first_fill, make_rx

T, TT, RPH, PIC = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
)
SELLERS = frozenset({T, TT, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()


def _clerk(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-counter").first() or UserFactory(
        site=site, role=T, username="matrix-counter"
    )


def _sale(site: Site, status: str = SaleStatus.OPEN, **over: Any) -> Sale:
    return Sale.objects.create(site=site, started_by=_clerk(site), status=status, **over)


def _none(site: Site) -> dict[str, Any]:
    return {}


def _patient(site: Site) -> dict[str, Any]:
    return {"pk": PatientFactory(site=site).pk}


def _otc_sale(site: Site) -> dict[str, Any]:
    """An open walk-in sale with one OTC item on it."""
    sale = _sale(site)
    add_line(
        sale,
        kind=LineKind.OTC,
        description="Loratadine 10 mg",
        quantity=Decimal(1),
        unit_price=Decimal("9.99"),
        package=otc_package(),
        taxable=True,
    )
    return {"pk": sale.pk}


def _otc_line(site: Site) -> dict[str, Any]:
    pk = _otc_sale(site)["pk"]
    return {"pk": pk, "line_pk": SaleLine.objects.get(sale_id=pk).pk}


def _rx_sale(site: Site) -> dict[str, Any]:
    """An open sale with a prescription on it and no pickup recorded yet."""
    rx = make_rx(_clerk(site))
    sale = _sale(site, patient=rx.patient)
    add_line(
        sale,
        kind=LineKind.RX,
        description=f"Rx {rx.number}-0",
        quantity=Decimal(30),
        unit_price=Decimal("4.00"),
        fill=first_fill(rx),
    )
    return {"pk": sale.pk}


def _counsel_sale(site: Site) -> dict[str, Any]:
    return {"pk": _sale(site, SaleStatus.AWAITING_COUNSEL, patient=PatientFactory(site=site)).pk}


def _done_sale(site: Site) -> dict[str, Any]:
    return {"pk": _sale(site, SaleStatus.COMPLETED).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
# GET roles == None means the URL takes no GET (POST only).
UI_ROWS: dict[str, Any] = {
    "counter": (_none, SELLERS, NOBODY, None),
    # A walk-in sale starts and opens its payment page.
    "counter_new_sale": (_none, None, SELLERS, 302),
    # No bag ticked: the card again, saying so.
    "counter_patient": (_patient, SELLERS, SELLERS, 422),
    # The pickup form again with what is missing.
    "counter_pickup": (_rx_sale, SELLERS, SELLERS, 422),
    # Everyone at the counter sees the wait; only a pharmacist writes the note.
    "counter_counsel": (_counsel_sale, SELLERS, PHARMACISTS, 422),
    # No payment typed for a sale with a total: the page again, saying so.
    "counter_pay": (_otc_sale, SELLERS, SELLERS, 422),
    "counter_item": (_otc_sale, None, SELLERS, 422),
    # Buttons: back to the sale (or the counter) with what happened.
    "counter_remove_line": (_otc_line, None, SELLERS, 302),
    "counter_cancel": (_otc_sale, None, SELLERS, 302),
    "counter_done": (_done_sale, SELLERS, NOBODY, None),
}

API_ROWS: dict[tuple[str, str], Any] = {}

WATCHED: list[Any] = [Sale, SaleLine, Pickup, Tender]
