"""Demo compounding records, made through the real services: a cleanroom suite (ISO 7 buffer
room with a laminar airflow workbench, its ante-room, a nonsterile compounding area with a
containment enclosure) certified this spring, this week's samples (one surface plate over
its action level, its corrective action open), today's pressures, temperatures and cleaning;
competency on file for the technician and the pharmacist; two approved master formulas
(hydrocortisone 1 % cream from 2.5 % cream and a base; vancomycin 1 g in 250 mL sodium
chloride, Category 2) with stock of their components; one cream verified and labeled, one
vancomycin bag waiting for the pharmacist; an assessment of risk for counting a hazardous
drug's tablets. Safe to run again: it does nothing once the site has a formula."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.compounding import competency, hd
from rxdesk.compounding.models import MasterFormula
from rxdesk.compounding.services_cleanroom import (
    certification_record,
    cleaning_record,
    conditions_record,
    control_create,
    pressure_record,
    room_create,
    sample_record,
)
from rxdesk.compounding.services_competency import competency_record
from rxdesk.compounding.services_formulas import formula_approve, formula_create
from rxdesk.compounding.services_hd import risk_assessment_create
from rxdesk.compounding.services_records import (
    record_check,
    record_label,
    record_measure,
    record_start,
    record_submit,
    record_verify,
)
from rxdesk.core.models import Site, User
from rxdesk.inventory.services.stock import stock_receive

HYDROCORTISONE_NDC = "0168-0080-16"  # hydrocortisone 2.5 % cream, 454 g jar
VANCOMYCIN_NDC = "0409-6533-01"  # vancomycin 1 g vials, tray of 10
SALINE_NDC = "0338-0049-02"  # 0.9 % sodium chloride, 250 mL bag


def _package(ndc10: str) -> Package | None:
    return Package.objects.filter(ndc10=ndc10).select_related("product").first()


def demo_compounding_load(site: Site) -> None:
    if MasterFormula.objects.filter(site=site).exists():
        return
    users = {u.username: u for u in User.objects.filter(site=site)}
    tech, rph, pic = users.get("tech"), users.get("pharmacist"), users.get("pic")
    cream, vanco, saline = (_package(n) for n in (HYDROCORTISONE_NDC, VANCOMYCIN_NDC, SALINE_NDC))
    if None in (tech, rph, pic, cream, vanco, saline):
        return
    assert tech and rph and pic and cream and vanco and saline
    today = site.today()
    now = timezone.now()

    # The rooms and the engineering controls, certified ten weeks ago.
    buffer = room_create(actor=pic, name="Buffer room", kind="buffer")
    ante = room_create(actor=pic, name="Ante-room", kind="ante", iso_class="8")
    nonsterile = room_create(actor=pic, name="Nonsterile compounding", kind="nonsterile")
    hood = control_create(
        actor=pic, room=buffer, name="LAFW 1", kind="lafw", serial_number="LF-22871"
    )
    control_create(actor=pic, room=nonsterile, name="Powder hood", kind="cve")
    certified = today - dt.timedelta(days=70)
    for target in ({"room": buffer}, {"room": ante}, {"control": hood}):
        certification_record(
            actor=pic, certified_on=certified, certifier="CleanAir Certification Co.", **target
        )

    # This week's monitoring: one surface plate over its action level opens an action.
    sampled = now - dt.timedelta(days=2)
    sample_record(
        actor=tech,
        kind="air",
        room=buffer,
        control=hood,
        location="LAFW 1 work zone",
        sampled_at=sampled,
        cfu=0,
        air_volume_liters="1000",
    )
    sample_record(
        actor=tech,
        kind="surface",
        room=buffer,
        control=hood,
        location="LAFW 1 work surface",
        sampled_at=sampled,
        cfu=1,
    )
    sample_record(
        actor=tech,
        kind="surface",
        room=buffer,
        location="Buffer room floor by the door",
        sampled_at=sampled,
        cfu=7,
        note="Demo excursion: investigate and resample.",
    )
    pressure_record(actor=tech, room=buffer, reference="Ante-room", inches_wc="0.032")
    pressure_record(actor=tech, room=ante, reference="Pharmacy (unclassified)", inches_wc="0.025")
    conditions_record(actor=tech, room=buffer, temperature_c="19.4", humidity_pct="41")
    for area in ("pec_interior", "work_surfaces", "floors"):
        for kind in ("cleaning", "disinfecting"):
            cleaning_record(
                actor=tech,
                room=buffer,
                control=hood if area == "pec_interior" else None,
                area=area,
                kind=kind,
                agent="Germicidal detergent" if kind == "cleaning" else "Sterile 70 % IPA",
            )

    # Competency: the technician and the pharmacist qualified for Category 1 and 2 and for
    # nonsterile work; the technician's media fill is five months old (due soon).
    for person, media_fill_days in ((tech, 150), (rph, 40)):
        for back in (200, 199, 198):
            competency_record(
                actor=pic,
                person=person,
                kind=competency.GARBING_GFT,
                initial=True,
                cfu=0,
                performed_on=today - dt.timedelta(days=back),
            )
        results = (
            (competency.DIDACTIC_STERILE, 100, None),
            (competency.GARBING_GFT, media_fill_days, 1),
            (competency.MEDIA_FILL, media_fill_days, None),
            (competency.DIDACTIC_NONSTERILE, 100, None),
            (competency.GARBING_NONSTERILE, 100, None),
        )
        for kind, days, cfu in results:
            competency_record(
                actor=pic if person == rph else rph,
                person=person,
                kind=kind,
                performed_on=today - dt.timedelta(days=days),
                passed=None if cfu is not None else True,
                cfu=cfu,
            )

    # Stock of the components.
    expiry = today + dt.timedelta(days=400)
    stock_receive(
        actor=tech, ndc=cream, lot_number="HC2506A", expiry=expiry, quantity=908, opening=True
    )
    stock_receive(
        actor=tech, ndc=vanco, lot_number="VN61187", expiry=expiry, quantity=20, opening=True
    )
    stock_receive(
        actor=tech, ndc=saline, lot_number="NS90233", expiry=expiry, quantity=2500, opening=True
    )

    # The master formulas, approved by the pharmacist-in-charge.
    hydrocortisone = formula_create(
        actor=rph,
        code="HC1CR",
        name="Hydrocortisone",
        strength="1 %",
        dosage_form="cream",
        route="topical",
        category="nonsterile",
        preparation="aqueous",
        preserved=True,
        storage="room",
        batch_quantity="200",
        batch_unit="g",
        container="60 g white ointment jars, child-resistant closure",
        equipment="Electronic balance (Class A); ointment slab; stainless spatula",
        procedure=(
            "1. Weigh the hydrocortisone 2.5 % cream and the cream base.\n"
            "2. Mix geometrically on the slab until uniform, no streaks.\n"
            "3. Fill the jars, label, and set aside for the pharmacist."
        ),
        calculations="2.5 % diluted to 1 %: 200 g × 1 / 2.5 = 80 g of 2.5 % cream; base to 200 g.",
        quality_checks="Appearance = smooth white cream, uniform, no streaks\nWeight = 200 g ± 2 %",
        physical_description="Smooth, white, uniform cream",
        bud_rationale="USP <795> Table 4: aqueous preparation with a preservative, 35 days.",
        references="USP <795> (2023), Table 4",
        labeling="For external use only",
        ingredients=[
            {
                "name": "Hydrocortisone 2.5 % cream",
                "product": cream.product_id,
                "quantity": "80",
                "unit": "g",
                "role": "active",
            },
            {
                "name": "Hydrophilic cream base (preserved)",
                "quantity": "120",
                "unit": "g",
                "role": "vehicle",
                "quantity_sufficient": True,
            },
        ],
    )
    hydrocortisone = formula_approve(actor=pic, formula=hydrocortisone)
    vancomycin = formula_create(
        actor=rph,
        code="VANC1G",
        name="Vancomycin in 0.9 % sodium chloride",
        strength="1 g/250 mL",
        dosage_form="intravenous solution",
        route="intravenous",
        category="2",
        aseptic=True,
        sterile_starting_components=True,
        storage="refrigerator",
        container_kind="single-dose",
        batch_quantity="1",
        batch_unit="bag",
        container="0.9 % sodium chloride 250 mL bag",
        equipment="LAFW (ISO 5); 20 mL syringe; vented spike",
        procedure=(
            "1. Reconstitute the vancomycin 1 g vial with 20 mL drawn from the bag.\n"
            "2. Return the solution to the bag; mix gently.\n"
            "3. Inspect against light and dark backgrounds; cap the port."
        ),
        quality_checks="Visual inspection = clear, colourless, no particles, no leaks",
        physical_description="Clear, colourless solution, 250 mL",
        bud_rationale="USP <797> Category 2, aseptic, sterile components, refrigerator: 10 days.",
        references="USP <797> (2023), Table 13",
        labeling="Refrigerate — do not freeze",
        ingredients=[
            {
                "name": "Vancomycin 1 g vial",
                "product": vanco.product_id,
                "quantity": "1",
                "unit": "each",
                "role": "active",
            },
            {
                "name": "0.9 % sodium chloride",
                "product": saline.product_id,
                "quantity": "250",
                "unit": "mL",
                "role": "diluent",
            },
        ],
    )
    vancomycin = formula_approve(actor=pic, formula=vancomycin)

    # This morning's cream, measured, checked, verified and labeled.
    made = record_start(actor=tech, formula=hydrocortisone, quantity="100", unit="g")
    for component in made.components.filter(package__isnull=False):
        record_measure(
            actor=tech,
            record=made,
            component_id=component.pk,
            measured_quantity=component.required_quantity,
            measured_unit=component.unit,
        )
    record_check(
        actor=tech, record=made, name="Appearance", result="Smooth white, uniform", passed=True
    )
    record_check(
        actor=tech,
        record=made,
        name="Weight",
        expected="100 g ± 2 %",
        result="100.4 g",
        passed=True,
    )
    record_submit(actor=tech, record=made, physical_description="Smooth, white, uniform cream")
    record_verify(actor=rph, record=made)
    record_label(actor=rph, record=made)

    # A vancomycin bag made in the hood, waiting for the pharmacist.
    bag = record_start(
        actor=tech, formula=vancomycin, quantity="1", unit="bag", room=buffer, control=hood
    )
    for component in bag.components.filter(package__isnull=False):
        record_measure(
            actor=tech,
            record=bag,
            component_id=component.pk,
            measured_quantity=component.required_quantity,
            measured_unit=component.unit,
        )
    record_check(
        actor=tech,
        record=bag,
        name="Visual inspection",
        result="Clear, no particles, no leaks",
        passed=True,
    )
    record_submit(actor=tech, record=bag)

    # USP <800>: counting a hazardous drug's tablets under an assessment of risk.
    tablets = (
        Product.objects.filter(hazardous=True, dosage_form__icontains="TABLET", active=True)
        .order_by("name", "product_id")
        .first()
    )
    if tablets is not None:
        risk_assessment_create(
            actor=pic,
            product=tablets,
            dosage_form="Tablet",
            packaging="Manufacturer's bottle",
            manipulation=hd.COUNT,
            risk_of_exposure="Low: intact tablets; dust from broken tablets possible.",
            containment="Dedicated counting tray and spatula, cleaned after use; never in the "
            "automated counter; tablets are not split or crushed.",
            ppe="One pair of chemotherapy gloves",
            reviewed_on=today - dt.timedelta(days=30),
        )
