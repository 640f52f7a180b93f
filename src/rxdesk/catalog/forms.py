"""Forms of the catalog screens: they parse what was typed; the rules live in the services."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from rxdesk.catalog.choices import DeaSchedule, Storage
from rxdesk.catalog.models import Product
from rxdesk.core.forms import RxForm, choice, flag, text


class CatalogSearchForm(RxForm):
    q = text(
        100,
        label="Find a drug",
        autocomplete="off",
        spellcheck="false",
        placeholder="ator 40 · insulin glargine · 0002-3227",
    )


class ScanForm(RxForm):
    # A GS1 DataMatrix element string is at most a few dozen characters; 200 is generous.
    code = text(
        200,
        required=True,
        label="Scan or type a code",
        autocomplete="off",
        spellcheck="false",
        placeholder="NDC, UPC, GTIN or 2D barcode",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.pop("autofocus", None)  # the search box has it


class FlagsForm(RxForm):
    FIELDSETS = (
        ("Controlled substance", ("dea_schedule_override",)),
        ("Safety", ("hazardous", "high_alert", "rems")),
        ("Storage", ("storage", "protect_from_light", "cold_chain")),
        ("Dispensing", ("maintenance", "unit_dose", "otc")),
        ("Behind the counter (CMEA)", ("cmea", "cmea_base_mg")),
        ("Look-alike / sound-alike", ("look_alikes",)),
        ("", ("reason",)),
    )

    dea_schedule_override = choice([], label="DEA schedule in force", required=False)
    hazardous = flag("NIOSH hazardous drug", "USP <800> handling: gloves, no automated counting.")
    high_alert = flag("ISMP high-alert medication", "Independent double check at verification.")
    rems = flag("REMS program")
    storage = choice(Storage.choices)
    protect_from_light = flag("Protect from light")
    cold_chain = flag("Cold chain", "Refrigerated or frozen from receipt to hand-out.")
    maintenance = flag("Maintenance medication")
    unit_dose = flag("Unit dose")
    otc = flag("Over the counter")
    cmea = flag(
        "Pseudoephedrine / ephedrine (CMEA)",
        "Sold from behind the counter with ID, logbook and the daily and 30-day limits.",
    )
    cmea_base_mg = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=8,
        decimal_places=4,
        label="Base per tablet or per mL (mg)",
        help_text="Base, not salt: pseudoephedrine HCl 30 mg is 24.579 mg base.",
    )
    look_alikes = forms.CharField(
        required=False,
        max_length=2000,
        label="Partners (product NDCs)",
        help_text="Labeler-product codes such as 0093-7155, one per line or separated by commas.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    reason = text(200, label="Reason for the change")

    def __init__(self, *args: Any, product: Product, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        directory = product.directory_dea_schedule
        follow = f"As in the FDA directory ({directory or 'not scheduled'})"
        schedule = self.fields["dea_schedule_override"]
        assert isinstance(schedule, forms.ChoiceField)
        schedule.choices = [("", follow), *DeaSchedule.choices]
        schedule.help_text = (
            "A state may schedule a drug more strictly than federal law, never less."
        )

    def partner_codes(self) -> list[str]:
        """The product NDCs typed in the partners box."""
        return [c for c in re.split(r"[\s,;]+", self.cleaned_data.get("look_alikes") or "") if c]


def partners_text(product: Product) -> str:
    """The partners box's initial text: one product NDC per line."""
    return "\n".join(p.product_ndc for p in product.look_alikes.order_by("product_ndc"))
