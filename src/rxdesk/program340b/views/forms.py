"""Forms of the 340B screens: parse only; the services hold every rule."""

from __future__ import annotations

from typing import Any

from django import forms

from rxdesk.claims.models import Plan
from rxdesk.core.forms import MAX_ID, DateField, RxForm, flag, text
from rxdesk.program340b.choices import PayerAction


class EntityForm(RxForm):
    FIELDSETS = (
        ("Covered entity (HRSA OPAIS)", ("opais_id", "name", "active", "starts_on")),
        ("Eligibility", ("lookback_months",)),
        ("Replenishment", ("account_number", "wholesaler")),
    )
    opais_id = text(20, required=True, label="340B ID", placeholder="DSH140001")
    name = text(120, required=True, label="Entity name")
    active = flag("The pharmacy dispenses for this entity now")
    starts_on = DateField(label="Capture dispenses from")
    lookback_months = forms.IntegerField(
        min_value=1, max_value=36, initial=12, label="Encounter look-back (months)"
    )
    account_number = text(40, label="340B account number at the wholesaler")
    wholesaler = text(80, label="Wholesaler")


class PrescriberForm(RxForm):
    npi = text(12, required=True, label="NPI", inputmode="numeric")
    name = text(120, label="Name")
    effective_from = DateField(label="Listed from")
    effective_to = DateField(required=False, label="Listed until")


class PatientForm(RxForm):
    patient = forms.IntegerField(min_value=1, max_value=MAX_ID, label="Patient ID")
    effective_from = DateField(label="Listed from")
    effective_to = DateField(required=False, label="Listed until")


class EncounterForm(RxForm):
    patient = forms.IntegerField(min_value=1, max_value=MAX_ID, label="Patient ID")
    location = text(120, required=True, label="Entity location (clinic, department)")
    on = DateField(label="Encounter date")


class PayerRuleForm(RxForm):
    plan = forms.ChoiceField(label="Plan")
    action = forms.ChoiceField(choices=PayerAction.choices, label="Rule")
    basis_of_cost_08 = flag("Send basis of cost 08 (340B pricing)")
    note = text(200, label="Note", placeholder="e.g. Medicaid Exclusion File")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = Plan.objects.filter(active=True).order_by("name", "bin", "pcn")
        field = self.fields["plan"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a plan")] + [
            (str(p.pk), f"{p.name} (BIN {p.bin}{' PCN ' + p.pcn if p.pcn else ''})") for p in plans
        ]


class ExclusionForm(RxForm):
    ndc = text(13, required=True, label="NDC", placeholder="00002-3227-30")
    reason = text(200, required=True, label="Reason", placeholder="Orphan drug (CAH)")


class OrderForm(RxForm):
    ndc = text(13, required=True, label="NDC")
    packages = forms.IntegerField(min_value=1, max_value=9999, label="Packages")
    po_number = text(30, required=True, label="PO number")


class ReportForm(RxForm):
    start = DateField(required=False, label="Ordered from")
    end = DateField(required=False, label="Ordered until")
    day = DateField(required=False, label="Day")
