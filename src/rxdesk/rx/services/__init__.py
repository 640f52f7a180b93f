"""Every write of the prescription app, one module per part (see DESIGN.md)."""

from rxdesk.rx.services.erx import (
    ErxReceipt,
    erx_receive,
    erx_reject,
    erx_resolve,
    renewal_request_create,
)
from rxdesk.rx.services.fills import (
    AutoRefillRun,
    RefillRefused,
    RefillResult,
    auto_refill_run,
    auto_refill_set,
    fill_cancel,
    refill_request,
)
from rxdesk.rx.services.labels import PrintedLabel, label_print
from rxdesk.rx.services.prescriptions import (
    Intake,
    prescription_activate,
    prescription_create,
    prescription_hold,
    prescription_image_upload,
    prescription_inactivate,
)
from rxdesk.rx.services.settings import rx_settings_update
from rxdesk.rx.services.transfers import OtherPharmacy, transfer_in, transfer_out

__all__ = [
    "AutoRefillRun",
    "ErxReceipt",
    "Intake",
    "OtherPharmacy",
    "PrintedLabel",
    "RefillRefused",
    "RefillResult",
    "auto_refill_run",
    "auto_refill_set",
    "erx_receive",
    "erx_reject",
    "erx_resolve",
    "fill_cancel",
    "label_print",
    "prescription_activate",
    "prescription_create",
    "prescription_hold",
    "prescription_image_upload",
    "prescription_inactivate",
    "refill_request",
    "renewal_request_create",
    "rx_settings_update",
    "transfer_in",
    "transfer_out",
]
