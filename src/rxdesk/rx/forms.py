"""Forms of the prescription screens. They parse what was typed (numbers stay text: the
services read them and name the field when one is not a number) and lay the fields out;
every rule of a schedule, a refill or a transfer lives in rxdesk.rx.services, whose errors
are shown beside the field they name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from rxdesk.core.forms import MAX_ID, DateField, RxForm, choice, flag, text
from rxdesk.rx.choices import (
    Daw,
    ErxStatus,
    FillSource,
    HoldReason,
    InactiveReason,
    Origin,
    PartialReason,
    Priority,
    QuantityUnit,
)

# The origins typed on the typing screen; a transfer has a screen of its own.
TYPED_ORIGINS = [
    (str(o.value), o.label)
    for o in (Origin.WRITTEN, Origin.TELEPHONE, Origin.ELECTRONIC, Origin.FACSIMILE)
]
REFILL_SOURCES = [
    (s.value, s.label) for s in (FillSource.PHONE, FillSource.WEB, FillSource.COUNTER)
]
# Reasons a person gives for stopping a prescription (the others are set by e-prescribing).
INACTIVE_CHOICES = [
    (r.value, r.label)
    for r in (
        InactiveReason.DISCONTINUED,
        InactiveReason.PATIENT_REQUEST,
        InactiveReason.ENTERED_IN_ERROR,
    )
]
HOLD_CHOICES = [("", "Choose a reason"), *HoldReason.choices]
INBOX_FILTERS = [*ErxStatus.choices, ("all", "All")]


def _numeric(max_length: int, *, label: str, required: bool = False, **attrs: Any) -> Any:
    """A number as typed; the service parses it and names the field when it is not one."""
    return text(
        max_length,
        required=required,
        label=label,
        inputmode="numeric",
        autocomplete="off",
        **attrs,
    )


def _with(field: forms.Field, **attrs: Any) -> Any:
    """``field`` with its help text or error messages set (``text`` passes its keywords to
    the widget)."""
    if "help_text" in attrs:
        field.help_text = attrs["help_text"]
    field.error_messages.update(attrs.get("error_messages", {}))
    return field


def _id(message: str, *, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(
        required=required,
        min_value=1,
        max_value=MAX_ID,
        widget=forms.HiddenInput,
        error_messages={"required": message, "invalid": message, "min_value": message},
    )


class _WrittenFields(RxForm):
    """What every prescription says, typed or transferred: who, what, how much, how."""

    patient = _id("Find the patient and choose them from the list.")
    prescriber = _id("Find the prescriber and choose them from the list.")
    drug = text(
        200,
        label="Drug: scan or type the NDC",
        autocomplete="off",
        spellcheck="false",
        placeholder="NDC, barcode, or a name to search",
    )
    product = _id("Choose a drug from the list.", required=False)
    quantity = _with(
        text(20, required=True, label="Quantity", inputmode="decimal", autocomplete="off"),
        error_messages={"required": "Type the quantity written."},
    )
    quantity_unit = choice(QuantityUnit.choices, label="Unit")
    days_supply = _with(
        _numeric(3, required=True, label="Days supply"),
        error_messages={"required": "Type the days supply."},
    )
    directions = _with(
        text(
            500,
            required=True,
            label="Directions (sig codes or words)",
            autocomplete="off",
            spellcheck="false",
            placeholder="1 T PO BID",
        ),
        error_messages={"required": "Type the directions (sig codes or words)."},
    )
    daw = forms.TypedChoiceField(
        choices=Daw.choices, coerce=int, initial=Daw.NONE, label="DAW (product selection)"
    )
    date_written = DateField(
        label="Date written",
        error_messages={"required": "Type the date written as MM/DD/YYYY."},
    )
    do_not_fill_before = DateField(required=False, label="Do not fill before")
    diagnosis_code = text(8, label="Diagnosis (ICD-10-CM)", placeholder="E11.9")
    prescriber_dea = text(9, label="DEA number as written", autocomplete="off")
    notes = forms.CharField(
        max_length=2000, required=False, label="Notes", widget=forms.Textarea(attrs={"rows": 2})
    )
    auto_refill = flag("Automatic refill", "Queue each refill when it falls due.")
    hold = flag("Put on hold instead of queueing")
    hold_reason = choice(HOLD_CHOICES, label="Hold reason", required=False)

    # Placed by hand in the template: the pickers, the drug box, the directions preview.
    SEPARATE = ("patient", "prescriber", "drug", "product", "directions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].widget.attrs.pop("autofocus", None)
        self.fields["quantity_unit"].initial = QuantityUnit.EACH

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("drug") or "").strip() and not data.get("product"):
            self.add_error("drug", "Scan or type the NDC, or search and choose the drug.")
        return data


class IntakeForm(_WrittenFields):
    """The typing screen: a written, telephoned, faxed or electronic prescription."""

    FIELDSETS = (
        ("How it came", ("origin", "emergency_oral", "prescriber_dea")),
        ("Quantity", ("quantity", "quantity_unit", "days_supply")),
        ("Refills and dates", ("refills_authorized", "daw", "date_written", "do_not_fill_before")),
        ("More", ("diagnosis_code", "notes", "auto_refill", "hold", "hold_reason")),
    )

    origin = forms.TypedChoiceField(
        choices=TYPED_ORIGINS, coerce=int, initial=Origin.WRITTEN, label="Origin"
    )
    emergency_oral = flag(
        "Emergency oral Schedule II", "Telephoned in an emergency; written follow-up in 7 days."
    )
    refills_authorized = _numeric(2, label="Refills authorized", placeholder="0")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["refills_authorized"].initial = "0"


class TransferInForm(_WrittenFields):
    """A prescription transferred in: what it says, the other pharmacy, and its history."""

    FIELDSETS = (
        ("Quantity", ("quantity", "quantity_unit", "days_supply")),
        ("Dates", ("daw", "date_written", "do_not_fill_before")),
        (
            "Transferring pharmacy",
            (
                "pharmacy_name",
                "pharmacy_address",
                "pharmacy_phone",
                "pharmacy_ncpdp_id",
                "pharmacy_npi",
                "pharmacy_dea",
                "other_rx_number",
                "other_pharmacist",
            ),
        ),
        (
            "History",
            (
                "original_refills_authorized",
                "refills_remaining",
                "first_fill_date",
                "last_fill_date",
                "originally_filled_at",
                "shared_database",
                "electronic_original",
            ),
        ),
        (
            "More",
            ("diagnosis_code", "prescriber_dea", "notes", "auto_refill", "hold", "hold_reason"),
        ),
    )

    pharmacy_name = text(120, label="Pharmacy name")
    pharmacy_address = text(300, label="Address")
    pharmacy_phone = text(20, label="Phone", inputmode="tel")
    pharmacy_ncpdp_id = text(7, label="NCPDP ID", inputmode="numeric")
    pharmacy_npi = text(10, label="NPI", inputmode="numeric")
    pharmacy_dea = text(9, label="DEA number")
    other_rx_number = text(20, label="Their Rx number")
    other_pharmacist = text(120, label="Their pharmacist")
    original_refills_authorized = forms.IntegerField(
        min_value=0,
        max_value=99,
        label="Refills originally authorized",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": "Type the refills the prescriber wrote (0 to 99)."},
    )
    refills_remaining = forms.IntegerField(
        min_value=0,
        max_value=99,
        label="Refills remaining",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": "Type the refills left (0 or more)."},
    )
    first_fill_date = DateField(required=False, label="First filled on")
    last_fill_date = DateField(required=False, label="Last filled on")
    originally_filled_at = _with(
        text(300, label="Originally filled at"), help_text="If not the transferring pharmacy."
    )
    shared_database = flag("Shared real-time database")
    electronic_original = flag(
        "Original was electronic", "An unfilled electronic Schedule II may be transferred once."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _require_pharmacy(self)


def _require_pharmacy(form: forms.Form) -> None:
    """What every transfer records of the other pharmacy (the service says the same)."""
    required = {
        "pharmacy_name": "Name the other pharmacy.",
        "pharmacy_address": "Give the other pharmacy's address.",
        "other_pharmacist": "Name the other pharmacist.",
    }
    for name, message in required.items():
        form.fields[name].required = True
        form.fields[name].error_messages["required"] = message


OTHER_PHARMACY_FIELDS = (
    "pharmacy_name",
    "pharmacy_address",
    "pharmacy_phone",
    "pharmacy_ncpdp_id",
    "pharmacy_npi",
    "pharmacy_dea",
    "other_rx_number",
    "other_pharmacist",
)


class TransferOutForm(RxForm):
    """Sending a prescription to another pharmacy (pharmacist to pharmacist)."""

    FIELDSETS = (
        ("Receiving pharmacy", OTHER_PHARMACY_FIELDS),
        ("Transfer", ("shared_database", "notes")),
    )

    pharmacy_name = text(120, label="Pharmacy name")
    pharmacy_address = text(300, label="Address")
    pharmacy_phone = text(20, label="Phone", inputmode="tel")
    pharmacy_ncpdp_id = text(7, label="NCPDP ID", inputmode="numeric")
    pharmacy_npi = text(10, label="NPI", inputmode="numeric")
    pharmacy_dea = text(9, label="DEA number")
    other_rx_number = text(20, label="Their Rx number")
    other_pharmacist = text(120, label="Their pharmacist")
    shared_database = flag("Shared real-time database")
    notes = text(500, label="Notes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _require_pharmacy(self)


def other_pharmacy_values(data: dict[str, Any]) -> dict[str, str]:
    """The cleaned fields of a pharmacy block as rxdesk.rx.services.OtherPharmacy's keywords."""
    return {
        "name": data.get("pharmacy_name") or "",
        "address": data.get("pharmacy_address") or "",
        "pharmacist": data.get("other_pharmacist") or "",
        "phone": data.get("pharmacy_phone") or "",
        "ncpdp_id": data.get("pharmacy_ncpdp_id") or "",
        "npi": data.get("pharmacy_npi") or "",
        "dea_number": data.get("pharmacy_dea") or "",
        "rx_number": data.get("other_rx_number") or "",
    }


class SettingsForm(RxForm):
    """The site's refill thresholds and expiry rules."""

    FIELDSETS = (
        ("Refill too soon", ("refill_threshold_percent", "controlled_refill_threshold_percent")),
        ("Expiry", ("noncontrolled_expiry_months", "cv_expiry_months", "cii_expiry_days")),
        ("Labels", ("label_printer",)),
    )

    refill_threshold_percent = forms.IntegerField(
        label="Refill due after (% of days supply)",
        help_text="50 to 100; 80 is usual.",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    controlled_refill_threshold_percent = forms.IntegerField(
        label="Controlled substances: refill due after (%)",
        help_text="50 to 100; usually stricter, e.g. 90.",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    noncontrolled_expiry_months = forms.IntegerField(
        label="Non-controlled prescriptions expire after (months)",
        help_text="1 to 60; federal baseline 12.",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    cv_expiry_months = forms.IntegerField(
        label="Schedule V prescriptions expire after (months)",
        help_text="1 to 60.",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    cii_expiry_days = forms.IntegerField(
        required=False,
        label="Schedule II must be filled within (days)",
        help_text="Empty: no state limit.",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    label_printer = forms.CharField(
        required=False,
        max_length=260,
        label="Label printer address",
        help_text="A thermal printer on the network (ZPL), e.g. 10.0.0.31 or zebra-1:9100. "
        "Empty: labels print as PDF from the browser.",
    )


class ErxResolveForm(RxForm):
    """Matching a received e-prescription: the candidates are chosen by id, or a new
    patient or prescriber is made from the message; corrections are optional."""

    patient = forms.CharField(required=False)
    prescriber = forms.CharField(required=False)
    drug = forms.CharField(required=False)
    drug_code = text(200, label="Drug: scan or type the NDC", autocomplete="off")
    quantity_unit = choice([("", "As sent"), *QuantityUnit.choices], required=False, label="Unit")
    days_supply = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=365,
        label="Days supply",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    directions = text(500, label="Directions", autocomplete="off", spellcheck="false")

    NEW = "new"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].widget.attrs.pop("autofocus", None)

    def choice_of(self, name: str) -> tuple[int | None, bool]:
        """(the chosen id, whether "create from the message" was chosen) for ``name``."""
        raw = (self.cleaned_data.get(name) or "").strip()
        if raw == self.NEW:
            return None, True
        if raw.isdigit() and 0 < int(raw) <= MAX_ID:
            return int(raw), False
        return None, False


class ErxRejectForm(RxForm):
    reason = _with(
        text(200, required=True, label="Why is it rejected?"),
        error_messages={"required": "Say why the message is rejected."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The page opens on the decision to take the message in; rejecting comes second.
        self.fields["reason"].widget.attrs.pop("autofocus", None)


# --- The fill workflow's screens (rxdesk.rx.views.fills) ----------------------------------------

APPROVE, SEND_BACK = "approve", "send_back"


class VerifyForm(RxForm):
    """A pharmacist's decision at data or final verification. The decision is explicit: a
    form posted without one approves nothing."""

    decision = forms.ChoiceField(
        choices=[(APPROVE, "Approve"), (SEND_BACK, "Send back")],
        widget=forms.HiddenInput,
        error_messages={
            "required": "Approve the fill, or send it back with a reason.",
            "invalid_choice": "Approve the fill, or send it back with a reason.",
        },
    )
    reason = text(300, label="Why does it go back?", autocomplete="off")
    bin = text(10, label="Will-call bin", autocomplete="off", placeholder="patient's initial")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision"].widget.attrs.pop("autofocus", None)

    @property
    def approving(self) -> bool:
        return self.cleaned_data.get("decision") == APPROVE


class FillProductForm(RxForm):
    """The fill screen: the scanned code (a scanner types it and Enter), the count, and for a
    pharmacist the reason to accept a failed scan or a package picked by hand."""

    scanned_code = text(
        120,
        label="Scan the package's barcode",
        autocomplete="off",
        spellcheck="false",
        placeholder="scan, or type the NDC and Enter",
    )
    quantity = _numeric(12, label="Quantity counted")
    partial_reason = choice(
        [("", "Not a partial fill"), *PartialReason.choices],
        label="Partial fill",
        required=False,
    )
    package = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Package picked by hand"
    )
    override_reason = text(300, label="Pharmacist: why accept this product?", autocomplete="off")

    def __init__(
        self, *args: Any, packages: Sequence[Any] = (), can_override: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if can_override:
            self.fields["package"].choices = [  # type: ignore[attr-defined]
                ("", "Scanned (not picked by hand)"),
                *((p.pk, f"{p.ndc10} · {p.description}") for p in packages),
            ]
        else:
            # Only a pharmacist may accept a product whose scan did not match.
            del self.fields["package"]
            del self.fields["override_reason"]


class PriorityForm(RxForm):
    priority = choice(Priority.choices, label="Priority")
    promised_at = forms.DateTimeField(
        required=False,
        label="Promised for",
        input_formats=["%Y-%m-%dT%H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Enter the promised time as MM/DD/YYYY HH:MM."},
    )
