"""Demo 340B records for the Riverside demo pharmacy, made through the services: a
disproportionate-share hospital as covered entity, its prescribers listed, a patient on
its list and another with a clinic encounter, a plan billed as 340B (SCC 20, basis 08),
the sold fills captured and, where a package is due, a replenishment order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from rxdesk.claims.models import Plan
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.program340b import queries, services
from rxdesk.program340b.choices import PayerAction
from rxdesk.program340b.models import CoveredEntity


def load(site: Site, users: Mapping[str, User] | None = None) -> None:
    if CoveredEntity.objects.filter(site=site).exists():
        return
    people = dict(users) if users else {u.username: u for u in User.objects.filter(site=site)}
    pic, tech = people.get("pic"), people.get("tech")
    if pic is None or tech is None:
        return
    today = site.today()
    services.p340b_entity_set(
        actor=pic,
        opais_id="DSH140001",
        name="Riverside Regional Medical Center",
        starts_on=today - dt.timedelta(days=60),
        lookback_months=12,
        account_number="340B-RRMC-0042",
        wholesaler="Demo Drug Wholesale",
    )
    for prescriber in Prescriber.objects.filter(site=site).order_by("pk")[:3]:
        services.p340b_prescriber_add(
            actor=pic,
            npi=prescriber.npi,
            name=f"{prescriber.last_name}, {prescriber.first_name}",
            effective_from=today - dt.timedelta(days=365),
        )
    patients = list(Patient.objects.filter(site=site).order_by("pk")[:3])
    if patients:
        services.p340b_patient_add(
            actor=pic, patient=patients[0], effective_from=today - dt.timedelta(days=365)
        )
    for patient in patients[1:]:
        services.p340b_encounter_add(
            actor=pic,
            patient=patient,
            location="RRMC Internal Medicine Clinic",
            on=today - dt.timedelta(days=45),
        )
    plan = Plan.objects.filter(active=True).order_by("pk").first()
    if plan is not None:
        services.p340b_payer_rule_set(
            actor=pic,
            plan=plan,
            action=PayerAction.BILL_340B,
            basis_of_cost_08=True,
            note="Payer requires SCC 20 on 340B claims",
        )
    services.p340b_capture(actor=tech)
    for n, line in enumerate(queries.inventory(actor=tech), start=1):
        if line.packages_due:
            services.p340b_order_create(
                actor=tech,
                ndc=line.ndc11,
                packages=line.packages_due,
                po_number=f"340B-DEMO-{n:03d}",
            )
