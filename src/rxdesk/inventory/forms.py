"""Forms of the stock screens: they parse what was typed and lay the fields out. Every rule
(what may be received, how far stock may go down, who may release a lot) lives in
rxdesk.inventory.services, whose errors are shown beside the field they name.

Quantities stay text here: the services read them as Decimal in the package's billing
unit and name the field when one is not a quantity."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms

from rxdesk.catalog.choices import BillingUnit
from rxdesk.core.forms import DateField, RxForm, choice, flag, text
from rxdesk.core.models import Site
from rxdesk.inventory.choices import AdjustReason, LocationKind, LotStatus
from rxdesk.inventory.models import StorageLocation
from rxdesk.inventory.queries import MAX_DAYS, StockRow

ANY = ("", "Any")
# Lot statuses a person sets by hand (services.stock.HAND_SET); release is offered only to
# roles with inventory.approve.
HOLD_CHOICES = [
    (LotStatus.QUARANTINED.value, "Quarantine"),
    (LotStatus.ON_HOLD.value, "Put on hold"),
    (LotStatus.DAMAGED.value, "Mark damaged"),
]
RELEASE_CHOICE = (LotStatus.AVAILABLE.value, "Release to available stock")


def _set_choices(form: forms.Form, name: str, options: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = options


def location_choices(
    places: Iterable[StorageLocation], *, blank: str = "—"
) -> list[tuple[str, str]]:
    return [("", blank), *((p.code, f"{p.code} · {p.name}") for p in places)]


def quantity(
    *, label: str = "Quantity", required: bool = True, help_text: str = "", **attrs: Any
) -> forms.CharField:
    """A quantity as typed (the service parses it: positive, at most three decimals)."""
    attrs = {"inputmode": "decimal", "autocomplete": "off", "class": "qty", **attrs}
    field = text(20, required=required, label=label, **attrs)
    field.help_text = help_text
    return field


class StockSearchForm(RxForm):
    """The on-hand list's search box (a name, an NDC, a lot number or a scan) and filters."""

    SEPARATE = ("q",)

    q = text(
        200,
        label="Find stock",
        autocomplete="off",
        spellcheck="false",
        placeholder="drug name · NDC · lot number · or scan the package",
    )
    status = choice([ANY, *LotStatus.choices], label="Status", required=False)
    location = choice([ANY], label="Location", required=False)
    expiring_within_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_DAYS,
        label="Expires within (days)",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    include_empty = flag("Show empty lots")

    def __init__(self, *args: Any, places: Iterable[StorageLocation] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "location", location_choices(places, blank="Any"))


class ScanForm(RxForm):
    """A 2D (GS1 DataMatrix) code or any code printed on the package, to fill the form."""

    scan = text(
        200,
        required=True,
        label="Scan the package",
        autocomplete="off",
        spellcheck="false",
        placeholder="2D barcode, UPC or NDC",
    )


class ReceiveForm(RxForm):
    """An opening balance or found stock: one lot into the shelf, outside a delivery."""

    FIELDSETS = (
        ("Package and lot", ("ndc", "lot_number", "expiry")),
        ("Quantity", ("quantity", "unit", "location")),
        ("Why", ("opening", "dea_order_number", "note")),
    )

    ndc = text(200, required=True, label="NDC", autocomplete="off", spellcheck="false")
    lot_number = text(40, required=True, label="Lot number", autocomplete="off")
    expiry = DateField(required=False, label="Expiry")
    quantity = quantity(help_text="In the package's billing unit (EA, ML or GM).")
    unit = choice(
        [("", "As the NDC is counted"), *BillingUnit.choices], label="Unit", required=False
    )
    location = choice([("", "—")], label="Storage location", required=False)
    opening = flag("Opening balance", "Unticked: found stock (a box that turned up).")
    dea_order_number = text(40, label="DEA 222 / CSOS order number (Schedule II)")
    note = text(500, label="Note")

    def __init__(self, *args: Any, places: Iterable[StorageLocation] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "location", location_choices(places))


# A second person's sign-in typed at the moment of a controlled-substance step (issue 10,
# two-person integrity). The names match the service's error fields, so a refused witness
# is shown beside the box it names.
WITNESS_FIELDS = ("witness.username", "witness.password", "witness.otp")


def add_witness_fields(form: forms.Form, *, help_text: str = "") -> None:
    """Add the witness's user name, password and authenticator code to ``form``. Whether a
    witness is required is the service's rule: the boxes are never required here."""
    username = text(
        150,
        label="Witness user name",
        autocomplete="off",
        spellcheck="false",
        autocapitalize="none",
    )
    username.help_text = help_text or (
        "A second person (technician or pharmacist) types their own sign-in now."
    )
    form.fields["witness.username"] = username
    form.fields["witness.password"] = forms.CharField(
        max_length=128,
        required=False,
        label="Witness password",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    form.fields["witness.otp"] = text(
        10,
        label="Witness authenticator code",
        inputmode="numeric",
        autocomplete="off",
        placeholder="6 digits, if set up",
    )


def witness_of(cleaned: dict[str, Any]) -> dict[str, str] | None:
    """What the witness typed, as the services take it; None when nothing was typed."""
    values = {name.split(".", 1)[1]: cleaned.get(name) or "" for name in WITNESS_FIELDS}
    return values if any(values.values()) else None


class AdjustForm(RxForm):
    """A correction of one lot's balance by a signed quantity, with a reason code. For a
    controlled substance, a witness signs in too (required for Schedule II)."""

    FIELDSETS = (
        ("Adjustment", ("quantity", "reason", "note")),
        ("Witness", WITNESS_FIELDS),
    )

    quantity = quantity(
        label="Change (+ or −)",
        placeholder="-2 or 5",
        help_text="Negative takes stock out, positive adds.",
    )
    reason = choice([("", "Choose a reason"), *AdjustReason.choices], label="Reason")
    note = text(500, label="Note")

    def __init__(self, *args: Any, controlled: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if controlled:
            add_witness_fields(
                self,
                help_text=f"Schedule {controlled.removeprefix('C')}: a second person "
                "(technician or pharmacist) types their own sign-in now"
                + (" — required." if controlled == "CII" else "."),
            )

    def service_values(self) -> dict[str, Any]:
        """The cleaned values as stock_adjust takes them."""
        values = {k: v for k, v in self.cleaned_data.items() if k not in WITNESS_FIELDS}
        return {**values, "witness": witness_of(self.cleaned_data)}


class StatusForm(RxForm):
    """Quarantine, hold or mark damaged; release back to available (approvers only)."""

    status = choice([], label="New status")
    reason = text(200, required=True, label="Why")

    def __init__(self, *args: Any, can_release: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options: list[tuple[str, str]] = [("", "Choose"), *HOLD_CHOICES]
        if can_release:
            options.append(RELEASE_CHOICE)
        _set_choices(self, "status", options)


class RelocateForm(RxForm):
    location = choice([], label="Move to")

    def __init__(self, *args: Any, places: Iterable[StorageLocation] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "location", location_choices(places, blank="Choose a location"))


class LocationForm(RxForm):
    FIELDSETS = (
        ("Location", ("code", "name", "kind", "active")),
        (
            "Temperature range (refrigerators and freezers)",
            ("temperature_min_c", "temperature_max_c"),
        ),
    )

    code = text(30, required=True, label="Code", placeholder="A-12", autocomplete="off")
    name = text(120, required=True, label="Name")
    kind = choice(LocationKind.choices, label="Kind")
    temperature_min_c = forms.DecimalField(
        required=False, max_digits=5, decimal_places=1, label="Lowest allowed °C"
    )
    temperature_max_c = forms.DecimalField(
        required=False, max_digits=5, decimal_places=1, label="Highest allowed °C"
    )
    active = flag("In use", "A location no longer used is kept for its history.")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["active"]


class TransferForm(RxForm):
    """Lots of this site to send to a sister site: one quantity box per lot (``qty_<id>``);
    lots left blank stay."""

    SEPARATE: Sequence[str] = ()

    to_site = choice([], label="Send to")
    note = text(500, label="Note")

    def __init__(
        self,
        *args: Any,
        sites: Iterable[Site] = (),
        rows: Iterable[StockRow] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        sites_offered = [("", "Choose a site"), *((str(s.pk), s.name) for s in sites)]
        _set_choices(self, "to_site", sites_offered)
        self.rows = list(rows)
        for row in self.rows:
            self.fields[self.quantity_field(row.balance.pk)] = quantity(
                label=f"Quantity of lot {row.balance.lot.number}", required=False
            )
        self.SEPARATE = [self.quantity_field(r.balance.pk) for r in self.rows]

    @staticmethod
    def quantity_field(balance_id: int) -> str:
        return f"qty_{balance_id}"

    def lines(self) -> list[dict[str, Any]]:
        """``[{"balance": id, "quantity": text}]`` for every lot given a quantity."""
        out = []
        for row in self.rows:
            typed = (self.cleaned_data.get(self.quantity_field(row.balance.pk)) or "").strip()
            if typed:
                out.append({"balance": row.balance.pk, "quantity": typed})
        return out

    def quantity_rows(self) -> list[tuple[StockRow, forms.BoundField]]:
        return [(row, self[self.quantity_field(row.balance.pk)]) for row in self.rows]


class TransferReceiveForm(RxForm):
    location = choice([], label="Put away at", required=False)

    def __init__(self, *args: Any, places: Iterable[StorageLocation] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "location", location_choices(places, blank="Leave unassigned"))
