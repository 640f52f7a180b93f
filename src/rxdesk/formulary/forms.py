"""Forms of the formulary screens: parse only; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from rxdesk.core.forms import MAX_ID, DateField, RxForm, text
from rxdesk.formulary import services
from rxdesk.formulary.choices import FormularyStatus, NotifyMethod


class EntryForm(RxForm):
    status = forms.ChoiceField(choices=[("", "Choose…"), *FormularyStatus.choices], label="Status")
    tier = forms.IntegerField(required=False, min_value=1, max_value=9, label="Tier (1–9)")
    criteria = forms.CharField(
        required=False,
        max_length=services.CRITERIA_MAX,
        label="Criteria (restricted: who may get it, when)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    effective_from = DateField(required=False, label="Effective from")
    effective_to = DateField(required=False, label="Effective to")
    notes = forms.CharField(
        required=False,
        max_length=services.NOTES_MAX,
        label="Notes",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ImportForm(RxForm):
    file = forms.FileField(required=False, label="CSV file (ndc or product_id, status, …)")
    text = forms.CharField(
        required=False,
        max_length=2_000_000,
        label="…or paste the CSV",
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "ndc,status\n0002-3227,preferred"}),
    )


class ProtocolForm(RxForm):
    FIELDSETS = (
        ("Protocol", ("name", "from_ingredient", "from_strength", "to_product")),
        ("Dose conversion", ("ratio", "conversions", "sig_note")),
        ("Evidence", ("notes",)),
    )
    name = text(services.NAME_MAX, required=True, label="Name", autocomplete="off")
    from_ingredient = text(200, required=True, label="From active ingredient (e.g. OMEPRAZOLE)")
    from_strength = text(60, label="From strength (blank: any)")
    to_product = forms.IntegerField(
        min_value=1, max_value=MAX_ID, label="To product (catalog product id)"
    )
    ratio = forms.DecimalField(
        required=False, max_digits=9, decimal_places=4, min_value=0, label="Dose ratio (to ÷ from)"
    )
    conversions = forms.CharField(
        required=False,
        label="Strength table, one per line: from = to (e.g. 20 mg = 40 mg)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    sig_note = text(300, label="Sig note (e.g. omeprazole 20 mg daily → pantoprazole 40 mg daily)")
    notes = forms.CharField(
        required=False, max_length=4000, label="Notes and evidence", widget=forms.Textarea
    )

    def clean_conversions(self) -> list[dict[str, str]]:
        rows = []
        for n, line in enumerate((self.cleaned_data.get("conversions") or "").splitlines(), 1):
            if not line.strip():
                continue
            left, sep, right = line.partition("=")
            if not sep:
                left, sep, right = line.partition("→")
            if not sep:
                raise forms.ValidationError(f"Line {n}: write it as 20 mg = 40 mg.")
            rows.append({"from": left.strip(), "to": right.strip()})
        return rows


def conversions_text(rows: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r.get('from', '')} = {r.get('to', '')}" for r in rows or [])


class RetireForm(RxForm):
    reason = text(300, required=True, label="Why retire it")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "retire")
        super().__init__(*args, **kwargs)


class DecideForm(RxForm):
    protocol = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        choices=[("accept", "Accept: new Rx for the formulary product"), ("decline", "Decline")],
        widget=forms.RadioSelect,
        label="Decision",
    )
    directions = text(500, label="Directions for the new Rx (blank: as before)")
    prescriber_notified = forms.ChoiceField(
        required=False, choices=NotifyMethod.choices, label="Prescriber told by"
    )
    note = text(services.NOTE_MAX, label="Note (declining: why)")
