"""Permission-matrix rows for the controlled-substance audits pages and API (the shapes of
tests/test_permission_matrix.py API_MATRIX and tests/test_permission_matrix_ui.py UI_MATRIX).
Written by hand from the specification:

* the records (counts, investigations, theft and loss) are read by everyone who sees
  controlled-substance records (cs.view): technician, pharmacist, PIC, inventory
  specialist, auditor;
* a blind count is taken by technician, pharmacist, PIC and inventory specialist (cs.count);
* an investigation is worked by a pharmacist or the PIC (cs.investigate);
* a Form 106 record is worked by a pharmacist or the PIC (cs.loss);
* a technician in training and the administrator have none of it;
* evidence is a multipart upload: the matrix sends JSON, so an allowed role reaches the
  check of the file (422) and the others are refused before it (403).

Also the set-up helpers the audit and loss tests share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from rxdesk.controlled import services_audits, services_losses
from rxdesk.controlled.models import (
    CsAudit,
    Investigation,
    InvestigationEvidence,
    InvestigationNote,
    TheftLoss,
    TheftLossLine,
)
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.controlled.factories import credentials, cs_stock, oxycodone, witness

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
CS_READERS = frozenset({T, RPH, PIC, INV, AUD})
COUNTERS = frozenset({T, RPH, PIC, INV})
INVESTIGATORS = frozenset({RPH, PIC})
LOSS_WORKERS = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/controlled"
PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# --- set-up helpers ---------------------------------------------------------------------------


def counter(site: Site) -> User:
    """A technician who is nobody else in the matrix."""
    found = User.objects.filter(username="matrix-cs-counter").first()
    return found or witness(site, Role.TECHNICIAN, "matrix-cs-counter")


def rph(site: Site) -> User:
    found = User.objects.filter(username="matrix-cs-auditor-rph").first()
    return found or witness(site, Role.PHARMACIST, "matrix-cs-auditor-rph")


def second(site: Site) -> User:
    """The witness of the matrix's corrections."""
    found = User.objects.filter(username="matrix-cs-second").first()
    return found or witness(site, Role.TECHNICIAN, "matrix-cs-second")


def counted(site: Site, on_hand: int = 137, count: int = 130, lot: str = "AU1") -> CsAudit:
    """A blind count of oxycodone lot ``lot`` (``on_hand`` on record), through the service."""
    cs_stock(site, oxycodone(), on_hand, lot=lot)
    return services_audits.cs_audit_record(
        actor=counter(site), ndc=oxycodone().ndc10, lot_number=lot, counted=count
    )


def investigation(site: Site, lot: str = "AU1") -> Investigation:
    """An open investigation of a 7-tablet shortfall."""
    return Investigation.objects.get(audit=counted(site, lot=lot))


def evidence(site: Site) -> InvestigationEvidence:
    inv = investigation(site)
    return services_audits.investigation_evidence_add(
        actor=rph(site),
        investigation=inv,
        name="vault-camera.pdf",
        content_type="application/pdf",
        data=PDF_BYTES,
    )


def loss(site: Site, *, ready: bool = False) -> TheftLoss:
    """A robbery found this morning, opened through the service; ``ready``: the police
    question answered and the DEA notice recorded (only the submission left)."""
    cs_stock(site, oxycodone(), 100, lot="LS1")
    record = services_losses.theft_loss_open(
        actor=rph(site),
        loss_type="armed_robbery",
        discovered_at=timezone.now() - dt.timedelta(hours=2),
        lines=[{"ndc": oxycodone().ndc10, "lot_number": "LS1", "quantity": "100"}],
    )
    if ready:
        record = services_losses.theft_loss_update(
            actor=rph(site),
            loss=record,
            police_notified=True,
            police_department="Springfield PD",
            police_report_number="24-1187",
        )
        record = services_losses.theft_loss_notified(
            actor=rph(site),
            loss=record,
            when=timezone.now() - dt.timedelta(hours=1),
            how="Email to the field division",
        )
    return record


# --- API rows ---------------------------------------------------------------------------------


def _count(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    cs_stock(site, oxycodone(), 100, lot="AU9")
    return f"{P}/audits", {"ndc": oxycodone().ndc10, "lot_number": "AU9", "counted": "100"}


def _resolve(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    inv = investigation(site)
    return f"{P}/investigations/{inv.pk}/resolve", {
        "outcome": "record_error",
        "conclusion": "A dispensing of 7 was not scanned; the fill record shows it.",
        "witness": credentials(second(site)),
    }


def _evidence_path(site: Site, user: User | None) -> tuple[str, None]:
    item = evidence(site)
    return f"{P}/investigations/{item.investigation_id}/evidence/{item.pk}", None


def _open_loss(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    cs_stock(site, oxycodone(), 100, lot="LS2")
    return f"{P}/losses", {
        "loss_type": "night_break_in",
        "discovered_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "lines": [{"ndc": oxycodone().ndc10, "lot_number": "LS2", "quantity": "40"}],
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/controlled/audits"): (COUNTERS, 201, _count),
    ("GET", "/controlled/audits"): (CS_READERS, 200, lambda s, u: (f"{P}/audits", None)),
    ("GET", "/controlled/audits/{audit_id}"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/audits/{counted(s).pk}", None),
    ),
    ("GET", "/controlled/investigations"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/investigations", None),
    ),
    ("GET", "/controlled/investigations/{investigation_id}"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/investigations/{investigation(s).pk}", None),
    ),
    ("POST", "/controlled/investigations/{investigation_id}/notes"): (
        INVESTIGATORS,
        201,
        lambda s, u: (
            f"{P}/investigations/{investigation(s).pk}/notes",
            {"text": "Checked the vault log."},
        ),
    ),
    ("POST", "/controlled/investigations/{investigation_id}/evidence"): (
        INVESTIGATORS,
        422,
        lambda s, u: (f"{P}/investigations/{investigation(s).pk}/evidence", {}),
    ),
    ("GET", "/controlled/investigations/{investigation_id}/evidence/{evidence_id}"): (
        CS_READERS,
        200,
        _evidence_path,
    ),
    ("POST", "/controlled/investigations/{investigation_id}/resolve"): (
        INVESTIGATORS,
        200,
        _resolve,
    ),
    ("GET", "/controlled/losses"): (CS_READERS, 200, lambda s, u: (f"{P}/losses", None)),
    ("POST", "/controlled/losses"): (LOSS_WORKERS, 201, _open_loss),
    ("GET", "/controlled/losses/{loss_id}"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/losses/{loss(s).pk}", None),
    ),
    ("PATCH", "/controlled/losses/{loss_id}"): (
        LOSS_WORKERS,
        200,
        lambda s, u: (f"{P}/losses/{loss(s).pk}", {"previous_losses": 1}),
    ),
    ("POST", "/controlled/losses/{loss_id}/notified"): (
        LOSS_WORKERS,
        200,
        lambda s, u: (
            f"{P}/losses/{loss(s).pk}/notified",
            {"when": timezone.now().isoformat(), "how": "Fax to the field division"},
        ),
    ),
    ("POST", "/controlled/losses/{loss_id}/submitted"): (
        LOSS_WORKERS,
        200,
        lambda s, u: (
            f"{P}/losses/{loss(s, ready=True).pk}/submitted",
            {"dea_reference": "TLR-2024-0042"},
        ),
    ),
    ("POST", "/controlled/losses/{loss_id}/cancel"): (
        LOSS_WORKERS,
        200,
        lambda s, u: (f"{P}/losses/{loss(s).pk}/cancel", {"reason": "Found in the vault"}),
    ),
    ("GET", "/controlled/losses/{loss_id}/pdf"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/losses/{loss(s).pk}/pdf", None),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def none(site: Site) -> dict[str, Any]:
    return {}


def _investigation_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": investigation(site).pk}


def _evidence_kwargs(site: Site) -> dict[str, Any]:
    item = evidence(site)
    return {"pk": item.investigation_id, "evidence_pk": item.pk}


def _loss_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": loss(site).pk}


UI_ROWS: dict[str, Any] = {
    "cs_audit_count": (none, COUNTERS, COUNTERS, 422),
    "cs_audits": (none, CS_READERS, NOBODY, None),
    "cs_investigations": (none, CS_READERS, NOBODY, None),
    "cs_investigation_detail": (_investigation_kwargs, CS_READERS, INVESTIGATORS, 422),
    "cs_evidence_download": (_evidence_kwargs, CS_READERS, NOBODY, None),
    "cs_losses": (none, CS_READERS, NOBODY, None),
    "cs_loss_create": (none, LOSS_WORKERS, LOSS_WORKERS, 422),
    "cs_loss_detail": (_loss_kwargs, CS_READERS, LOSS_WORKERS, 422),
    "cs_loss_pdf": (_loss_kwargs, CS_READERS, NOBODY, None),
}
WATCHED: list[Any] = [
    CsAudit,
    Investigation,
    InvestigationNote,
    InvestigationEvidence,
    TheftLoss,
    TheftLossLine,
]
