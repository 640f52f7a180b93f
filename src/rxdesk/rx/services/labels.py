"""Printing a fill's label, and reprinting it with the reason.

A label exists once the product is counted out (filled, ready or sold). The first print is
a step of the fill's history; every later one is a reprint and says why (a jammed printer,
a torn label, a second container), so the history shows every label that left the
printer. ``label_print`` hands the bytes back (the page offers the PDF); ``label_send`` sends
the ZPL to a thermal printer itself and records the print only once the printer took it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.rx.choices import FillStep
from rxdesk.rx.labels import label_data, label_pdf, label_zpl
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.printing import Printer, send_zpl
from rxdesk.rx.services.common import DISPENSED_FILLS, own, record

register_actions(
    {
        "rx.label.printed": "Prescription label printed",
        "rx.label.reprinted": "Prescription label reprinted",
    }
)


@dataclass(frozen=True)
class PrintedLabel:
    """The label of one fill, as a PDF for a laser sheet and as ZPL for a thermal printer."""

    fill: Fill
    pdf: bytes
    zpl: str
    reprint: bool


def _locked(fill: Fill, actor: User) -> tuple[Prescription, Fill]:
    """Lock the prescription, then the fill (the workflow's order); only a fill whose
    product has been counted out has a label."""
    own(actor, "fill", fill.site_id)
    rx = (
        Prescription.objects.select_for_update(of=("self",))
        .select_related("site", "patient", "prescriber", "product", "package")
        .get(pk=fill.prescription_id)
    )
    locked = (
        Fill.objects.select_for_update(of=("self",))
        .select_related("package__product")
        .get(pk=fill.pk)
    )
    locked.prescription = rx
    if locked.status not in DISPENSED_FILLS:
        raise Conflict(
            f"Fill {rx.number}-{locked.number} is {locked.get_status_display().lower()}; "
            "its label prints once the product has been counted out.",
            field="status",
            fill_status=locked.status,
        )
    return rx, locked


def label_print(*, actor: User, fill: Fill, reprint_reason: str = "") -> PrintedLabel:
    """Print the label of a filled, ready or sold fill. The first print is recorded as
    printed; any later one is a reprint and needs ``reprint_reason``."""
    authorize(actor, Cap.RX_FILL)
    with transaction.atomic():
        rx, locked = _locked(fill, actor)
        reprint = locked.labels_printed > 0
        why = " ".join((reprint_reason or "").split())[:300]
        if reprint and not why:
            raise Invalid(
                f"The label of Rx {rx.number}-{locked.number} was already printed "
                f"{locked.labels_printed} time{'s' if locked.labels_printed > 1 else ''}; "
                "say why it is printed again.",
                field="reprint_reason",
            )
        data = label_data(locked, today=rx.site.today())
        pdf, zpl = label_pdf([data]), label_zpl(data)
        locked.labels_printed += 1
        locked.save(update_fields=["labels_printed"])
        step = FillStep.LABEL_REPRINTED if reprint else FillStep.LABEL_PRINTED
        record(
            locked,
            step,
            actor=actor,
            from_status=locked.status,
            reason=why if reprint else "",
            data={"copy": locked.labels_printed, "barcode": data.barcode},
        )
        audit_record(
            actor=actor,
            site=rx.site,
            action="rx.label.reprinted" if reprint else "rx.label.printed",
            obj=locked,
            patient_id=rx.patient_id,
            reason=why if reprint else "",
            data={
                "prescription_id": rx.pk,
                "fill_number": locked.number,
                "copy": locked.labels_printed,
            },
        )
    return PrintedLabel(fill=locked, pdf=pdf, zpl=zpl, reprint=reprint)


def label_send(
    *, actor: User, fill: Fill, printer: Printer, reprint_reason: str = ""
) -> PrintedLabel:
    """Print the fill's label on the thermal ``printer`` (raw TCP, ZPL) and only then record
    it in the fill's history, by the rules of ``label_print``.

    A printer that refuses, hangs or drops the connection raises ``PrinterFailed`` and
    nothing is recorded as printed: the fill's history must list only labels that left a
    printer, so the next try is a first print, not a reprint. The bytes go out inside the
    transaction, after the checks and before the commit, on purpose: a printed label whose
    record then failed to commit is the lesser harm (the technician sees the error and
    reprints with a reason) than a recorded label that never printed."""
    with transaction.atomic():
        printed = label_print(actor=actor, fill=fill, reprint_reason=reprint_reason)
        send_zpl(printer.host, printer.port, printed.zpl.encode("utf-8"), printer.timeout)
    return printed
