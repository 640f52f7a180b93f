"""Permission-matrix rows for formulary and interchange (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the formulary and the protocols are read with formulary.view: technician, trainee,
  pharmacist, PIC, inventory specialist, auditor;
* an Rx's substitution offer and interchange suggestions also need rx.view (they are
  about a prescription): technician, trainee, pharmacist, PIC;
* the formulary and the protocols are kept (and protocols approved) with formulary.edit:
  the PIC;
* an interchange is accepted or declined with interchange.apply: pharmacist, PIC."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.formulary import services
from rxdesk.formulary.models import FormularyEntry, InterchangeDecision, InterchangeProtocol
from tests.catalog.factories import ProductFactory
from tests.formulary.setup import ppis, protocol, rx, user

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, TT, RPH, PIC, INV, AUD})
RX_READERS = frozenset({T, TT, RPH, PIC})
EDIT = frozenset({PIC})
APPLY = frozenset({RPH, PIC})

P = "/api/v1/formulary"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _entry(site: Site) -> FormularyEntry:
    return services.formulary_entry_set(
        actor=user(site, PIC), product=ProductFactory(), status="formulary"
    )


def _draft(site: Site) -> InterchangeProtocol:
    return protocol(site, approve=False)


def _ome_rx(site: Site) -> Any:
    return rx(user(site, RPH), ppis()["ome20"])


def _decide(site: Site, u: User | None) -> tuple[str, dict[str, Any]]:
    row = protocol(site)
    return f"{P}/rx/{_ome_rx(site).pk}/decide", {
        "protocol_id": row.pk,
        "accept": True,
        "prescriber_notified": "phone",
    }


def _protocol_body(site: Site, u: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/protocols", {
        "name": "Omeprazole to pantoprazole",
        "from_ingredient": "OMEPRAZOLE",
        "to_product_id": ppis()["panto40"].pk,
        "conversions": [{"from": "20 mg", "to": "40 mg"}],
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/formulary/entries"): (VIEWERS, 200, lambda s, u: (f"{P}/entries", None)),
    ("POST", "/formulary/entries"): (
        EDIT,
        201,
        lambda s, u: (f"{P}/entries", {"product_id": ProductFactory().pk, "status": "preferred"}),
    ),
    ("POST", "/formulary/entries/import"): (
        EDIT,
        200,
        lambda s, u: (
            f"{P}/entries/import",
            {"csv": f"product_id,status\n{ProductFactory().pk},formulary\n"},
        ),
    ),
    ("GET", "/formulary/entries/{entry_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/entries/{_entry(s).pk}", None),
    ),
    ("PUT", "/formulary/entries/{entry_id}"): (
        EDIT,
        200,
        lambda s, u: (f"{P}/entries/{_entry(s).pk}", {"status": "preferred", "tier": 1}),
    ),
    ("DELETE", "/formulary/entries/{entry_id}"): (
        EDIT,
        204,
        lambda s, u: (f"{P}/entries/{_entry(s).pk}", None),
    ),
    ("GET", "/formulary/protocols"): (VIEWERS, 200, lambda s, u: (f"{P}/protocols", None)),
    ("POST", "/formulary/protocols"): (EDIT, 201, _protocol_body),
    ("GET", "/formulary/protocols/{protocol_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/protocols/{_draft(s).pk}", None),
    ),
    ("PATCH", "/formulary/protocols/{protocol_id}"): (
        EDIT,
        200,
        lambda s, u: (f"{P}/protocols/{_draft(s).pk}", {"sig_note": "before breakfast"}),
    ),
    ("POST", "/formulary/protocols/{protocol_id}/approve"): (
        EDIT,
        200,
        lambda s, u: (f"{P}/protocols/{_draft(s).pk}/approve", None),
    ),
    ("POST", "/formulary/protocols/{protocol_id}/retire"): (
        EDIT,
        200,
        lambda s, u: (f"{P}/protocols/{_draft(s).pk}/retire", {"reason": "P&T review"}),
    ),
    ("GET", "/formulary/rx/{prescription_id}/offer"): (
        RX_READERS,
        200,
        lambda s, u: (f"{P}/rx/{_ome_rx(s).pk}/offer", None),
    ),
    ("GET", "/formulary/rx/{prescription_id}/suggestions"): (
        RX_READERS,
        200,
        lambda s, u: (f"{P}/rx/{_ome_rx(s).pk}/suggestions", None),
    ),
    ("POST", "/formulary/rx/{prescription_id}/decide"): (APPLY, 201, _decide),
}

UI_ROWS: dict[str, Any] = {
    "formulary_home": (_none, VIEWERS, NOBODY, None),
    "formulary_export": (_none, VIEWERS, NOBODY, None),
    "formulary_import": (_none, EDIT, EDIT, 422),
    "formulary_product": (lambda s: {"product_id": ProductFactory().pk}, VIEWERS, EDIT, 422),
    "formulary_entry_remove": (lambda s: {"pk": _entry(s).pk}, None, EDIT, 302),
    "formulary_protocols": (_none, VIEWERS, NOBODY, None),
    "formulary_protocol_new": (_none, EDIT, EDIT, 422),
    "formulary_protocol": (lambda s: {"pk": _draft(s).pk}, VIEWERS, EDIT, 422),
    "formulary_protocol_approve": (lambda s: {"pk": _draft(s).pk}, None, EDIT, 302),
    "formulary_protocol_retire": (lambda s: {"pk": _draft(s).pk}, None, EDIT, 422),
    "formulary_rx": (lambda s: {"pk": _ome_rx(s).pk}, RX_READERS, NOBODY, None),
    "formulary_rx_decide": (lambda s: {"pk": _ome_rx(s).pk}, None, APPLY, 422),
}
WATCHED: list[Any] = [FormularyEntry, InterchangeProtocol, InterchangeDecision]
