"""Prescription labels: what a label says (federal and common state content, the patient's
language, refills, discard-after, warnings), the PDF and ZPL renderings, the dose-number
rule, and printing and reprinting a fill's label."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.rx import labels, services
from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.labels import (
    TRANSFER_CAUTION,
    LabelData,
    discard_after,
    format_quantity,
    format_strength,
    label_data,
    label_pdf,
    label_zpl,
    quantity_text,
)
from rxdesk.rx.models import Fill, FillEvent
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.conftest import audit_count, last_event
from tests.factories import PatientFactory
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

TRAILING_ZERO = re.compile(r"\.\d*0\b")

# --- numbers: no trailing zero, no naked decimal --------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("30", "30"),
        ("30.000", "30"),
        ("2.50", "2.5"),
        ("0.5", "0.5"),
        (".5", "0.5"),
        ("0.125", "0.125"),
        ("1E+1", "10"),
        ("100", "100"),
        ("1000.0", "1,000"),
        ("100000", "100,000"),
        ("0.000", "0"),
        ("-0", "0"),
    ],
)
def test_it_prints_numbers_without_trailing_zeros_or_naked_decimals(value, shown):
    assert format_quantity(Decimal(value)) == shown


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "abc"])
def test_it_refuses_what_is_not_a_number(bad):
    with pytest.raises(ValueError):
        format_quantity(bad)


doses = st.one_of(
    # Any decimal a dose could be, with its exponent as typed.
    st.decimals(
        min_value=Decimal("0.0001"),
        max_value=Decimal("1000000"),
        allow_nan=False,
        allow_infinity=False,
    ),
    # Numbers carrying trailing zeros on purpose: 500 × 10⁻² = "5.00".
    st.builds(
        lambda digits, places: Decimal(digits).scaleb(-places),
        st.integers(min_value=1, max_value=10**9),
        st.integers(min_value=0, max_value=8),
    ),
)


def _check_dose(value: Decimal) -> None:
    shown = format_quantity(value)
    assert not TRAILING_ZERO.search(shown), shown
    assert not shown.startswith("."), shown
    assert "E" not in shown.upper(), shown
    assert Decimal(shown.replace(",", "")) == value.normalize()
    # Commas only group the whole number's digits in threes (ISMP: "100,000 units").
    whole = shown.split(".")[0]
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", whole), shown


@given(doses)
def test_dose_numbers_keep_their_value_and_lose_their_trailing_zeros(value):
    _check_dose(value)


def _random_dose(rng: random.Random) -> Decimal:
    """A dose of either shape ``doses`` draws, from a plain seeded generator (Hypothesis
    spends ~1 ms an example on bookkeeping; 100,000 of them took two minutes)."""
    if rng.random() < 0.5:
        # Any decimal from 0.0001 to 1,000,000 with up to 4 places, as typed.
        places = rng.randint(0, 4)
        units = rng.randint(1, 10**6 * 10**places)
        return Decimal(units).scaleb(-places)
    # Trailing zeros on purpose: 500 × 10⁻² = "5.00".
    return Decimal(rng.randint(1, 10**9)).scaleb(-rng.randint(0, 8))


@pytest.mark.slow
def test_dose_numbers_over_a_hundred_thousand_random_doses():
    seed = random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    for _ in range(100_000):
        value = _random_dose(rng)
        try:
            _check_dose(value)
        except AssertionError as exc:
            raise AssertionError(f"dose {value!r} (seed {seed}): {exc}") from None


@pytest.mark.parametrize(
    ("strength", "shown"),
    [
        ("20 mg/1", "20 mg"),
        ("2.50 mg/1", "2.5 mg"),
        (".5 mg/1", "0.5 mg"),
        ("250 mg/5mL", "250 mg per 5 mL"),
        ("5 mg/1; 325 mg/1", "5 mg, 325 mg"),
        ("100 [USP'U]/mL", "100 units per mL"),
        ("1000 ug/1", "1,000 mcg"),
        ("", ""),
    ],
)
def test_strength_prints_as_a_patient_reads_it(strength, shown):
    assert format_strength(strength) == shown


def test_quantity_words():
    assert quantity_text(Decimal("30.000"), "EA", "CAPSULE") == "30 capsules"
    assert quantity_text(Decimal("1"), "EA", "TABLET, FILM COATED") == "1 tablet"
    assert quantity_text(Decimal("2"), "EA", "PATCH") == "2 patches"
    assert quantity_text(Decimal("150.0"), "ML", "SUSPENSION") == "150 mL"
    assert quantity_text(Decimal("0.5"), "GM", "OINTMENT") == "0.5 g"
    assert quantity_text(Decimal("2"), "EA", "INJECTION, SOLUTION") == "2 each"


def test_discard_after_is_the_sooner_of_the_lot_expiry_and_one_year():
    filled = dt.date(2026, 3, 10)
    assert discard_after(filled, []) == dt.date(2027, 3, 10)
    assert discard_after(filled, [dt.date(2030, 1, 31)]) == dt.date(2027, 3, 10)
    assert discard_after(filled, [dt.date(2026, 9, 30), dt.date(2026, 6, 30)]) == dt.date(
        2026, 6, 30
    )
    assert discard_after(dt.date(2028, 2, 29), []) == dt.date(2029, 2, 28)


def test_the_state_rules_are_data():
    assert labels.label_rules("IL") == labels.FEDERAL
    assert labels.FEDERAL.caution_schedules == frozenset({2, 3, 4})
    assert [labels.schedule_number(c) for c in ("CII", "2N", "CIIIN", "C-IV", "CV", "")] == [
        2,
        2,
        3,
        4,
        5,
        None,
    ]


# --- what a real fill's label says ----------------------------------------------------------


@pytest.fixture
def pharmacy(site):
    site.name = "Riverside Test Pharmacy"
    site.address_line1 = "100 Main St"
    site.city = "Springfield"
    site.state = "IL"
    site.postal_code = "62701"
    site.phone = "2175550100"
    site.save()
    return site


def _filled(technician, pharmacist, *, expiry=None, **over):
    """A prescription typed, data-verified and counted out through the real services."""
    rx = make_rx(technician, **over)
    if expiry is not None:
        stock(rx.site, rx.package, lot="LOT-A", quantity=100, expiry=expiry)
    else:
        stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    return workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)


def _fresh(fill: Fill) -> Fill:
    return Fill.objects.select_related("prescription", "package__product").get(pk=fill.pk)


def test_the_label_carries_what_the_rules_ask(pharmacy, technician, pharmacist):
    fill = _filled(technician, pharmacist)
    rx = fill.prescription
    label = label_data(_fresh(fill))

    today = pharmacy.today()
    assert label.pharmacy_name == "Riverside Test Pharmacy"
    assert label.pharmacy_address == "100 Main St, Springfield, IL 62701"
    assert label.pharmacy_phone == "(217) 555-0100"
    assert label.rx_number == f"Rx {rx.number}-0"
    assert label.barcode == f"{rx.number}-0"
    assert label.date_filled == f"{today:%m/%d/%Y}"
    assert label.patient_name == rx.patient.full_name
    assert label.prescriber_name == "Margaret Okafor, MD"
    assert label.drug == "Prozac 20 mg Capsule"
    assert label.generic_name == "Fluoxetine Hydrochloride"
    assert label.quantity == "30 capsules"
    assert label.directions == "Take 1 capsule by mouth once daily."
    assert (label.directions_english, label.language) == ("", "en")
    assert label.refills == "Refills: 5"
    assert label.manufacturer == "Eli Lilly and Company"
    assert label.ndc == f"NDC {rx.package.ndc10}"
    assert label.warnings == ()
    # The lot's expiry (2030) is later than a year from today: a year from today.
    one_year = labels.add_months(today, 12)
    assert label.discard_after_date == one_year
    assert label.discard_after == f"{one_year:%m/%d/%Y}"
    assert not TRAILING_ZERO.search(label.text())


def test_a_spanish_speaking_patient_reads_spanish_with_the_english_below(
    pharmacy, technician, pharmacist
):
    patient = PatientFactory(
        site=pharmacy, first_name="José", last_name="Núñez", preferred_language="es"
    )
    label = label_data(_fresh(_filled(technician, pharmacist, patient=patient)))
    assert label.directions == "Tome 1 cápsula por vía oral una vez al día."
    assert label.directions_english == "Take 1 capsule by mouth once daily."
    assert label.language == "es"
    assert label.patient_name == "José Núñez"


def test_a_language_without_translated_directions_gets_english(pharmacy, technician, pharmacist):
    patient = PatientFactory(site=pharmacy, preferred_language="vi")
    label = label_data(_fresh(_filled(technician, pharmacist, patient=patient)))
    assert (label.directions, label.directions_english, label.language) == (
        "Take 1 capsule by mouth once daily.",
        "",
        "en",
    )


def test_no_refills_says_so(pharmacy, technician, pharmacist):
    label = label_data(_fresh(_filled(technician, pharmacist, refills_authorized=0)))
    assert label.refills == "No refills"


def test_refills_count_after_this_fill(pharmacy, technician, pharmacist):
    label = label_data(_fresh(_filled(technician, pharmacist, refills_authorized=2)))
    assert label.refills == "Refills: 2"  # the original fill uses none of the two refills


def test_a_schedule_iv_drug_carries_the_federal_transfer_caution(pharmacy, technician, pharmacist):
    cs = label_data(_fresh(_filled(technician, pharmacist, schedule="CIV")))
    assert cs.warnings[0] == TRANSFER_CAUTION
    assert TRANSFER_CAUTION == (
        "Caution: Federal law prohibits the transfer of this drug to any person other than "
        "the patient for whom it was prescribed."
    )
    plain = label_data(_fresh(_filled(technician, pharmacist)))
    assert TRANSFER_CAUTION not in plain.warnings


def test_the_lot_expiry_is_the_discard_date_when_it_comes_sooner(pharmacy, technician, pharmacist):
    soon = pharmacy.today() + dt.timedelta(days=90)
    label = label_data(_fresh(_filled(technician, pharmacist, expiry=soon)))
    assert label.discard_after_date == soon
    assert label.discard_after == f"{soon:%m/%d/%Y}"


def test_product_flags_become_auxiliary_warnings(pharmacy, technician, pharmacist):
    product = ProductFactory(
        name="Insulin Glargine",
        tall_man_name="",
        generic_name="Insulin Glargine",
        strength="100 [USP'U]/mL",
        dosage_form="INJECTION, SOLUTION",
        cold_chain=True,
        storage="refrigerate",
        high_alert=True,
        labeler="Sanofi-Aventis U.S. LLC",
    )
    package = PackageFactory(product=product, ndc10="0088-2220-33", billing_unit="ML")
    fill = _filled(
        technician,
        pharmacist,
        product=product,
        package=package,
        quantity=Decimal("15"),
        quantity_unit="ML",
        directions="INJ 10 UNITS SUBCUT QHS".replace("QHS", "AT BEDTIME"),
        days_supply=30,
    )
    label = label_data(_fresh(fill))
    assert label.drug == "Insulin Glargine 100 units per mL Injection, solution"
    assert label.generic_name == ""  # the same as the name
    assert label.quantity == "15 mL"
    assert label.warnings == (
        "Refrigerate — do not freeze",
        "High-alert medicine: take exactly as directed",
    )
    assert label.manufacturer == "Sanofi-Aventis U.S. LLC"


def test_the_tall_man_name_is_printed(pharmacy, technician, pharmacist):
    product = ProductFactory(
        name="Hydroxyzine",
        tall_man_name="hydrOXYzine",
        generic_name="Hydroxyzine",
        hazardous=True,
        protect_from_light=True,
    )
    package = PackageFactory(product=product, ndc10="0003-4444-30")
    label = label_data(_fresh(_filled(technician, pharmacist, product=product, package=package)))
    assert label.drug.startswith("hydrOXYzine 20 mg")
    assert label.warnings == ("Protect from light", "Hazardous drug — handle with gloves")


# --- the PDF and the ZPL --------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def test_the_pdf_is_a_real_pdf_with_the_label_on_it(pharmacy, technician, pharmacist):
    patient = PatientFactory(
        site=pharmacy, first_name="José", last_name="Núñez", preferred_language="es"
    )
    fill = _filled(technician, pharmacist, patient=patient, schedule="CIV")
    label = label_data(_fresh(fill))
    pdf = label_pdf([label])
    assert pdf.startswith(b"%PDF-")
    (text,) = _pdf_text(pdf)
    for expected in (
        "José Núñez",
        label.drug,
        label.rx_number,
        "Tome 1 cápsula por vía oral una vez al día.",
        "Take 1 capsule by mouth once daily.",
        "Riverside Test Pharmacy",
        "Refills: 5",
        f"Discard after: {label.discard_after}",
    ):
        assert expected in text, expected
    assert "Federal law prohibits the transfer" in text


def _sample(**over) -> LabelData:
    values = {
        "pharmacy_name": "Riverside Test Pharmacy",
        "pharmacy_address": "100 Main St, Springfield, IL 62701",
        "pharmacy_phone": "(217) 555-0100",
        "rx_number": "Rx 1042-0",
        "barcode": "1042-0",
        "date_filled": "05/14/2026",
        "patient_name": "Ana Núñez",
        "prescriber_name": "Margaret Okafor, MD",
        "drug": "PROzac 20 mg Capsule",
        "generic_name": "Fluoxetine Hydrochloride",
        "quantity": "30 capsules",
        "directions": "Take 1 capsule by mouth once daily.",
        "directions_english": "",
        "language": "en",
        "refills": "No refills",
        "discard_after": "05/14/2027",
        "manufacturer": "Eli Lilly and Company",
        "ndc": "NDC 0002-3227-30",
        "warnings": (TRANSFER_CAUTION,),
    }
    values.update(over)
    return LabelData(**values)


def test_a_seventh_label_starts_a_second_sheet():
    pdf = label_pdf([_sample(rx_number=f"Rx {n}-0", barcode=f"{n}-0") for n in range(7)])
    pages = _pdf_text(pdf)
    assert len(pages) == 2
    assert all(f"Rx {n}-0" in pages[0] for n in range(6)) and "Rx 6-0" in pages[1]


def test_long_directions_still_print_in_full():
    long = " ".join(["Take 1 capsule by mouth in the morning and 1 capsule at bedtime."] * 5)
    (text,) = _pdf_text(label_pdf([_sample(directions=long)]))
    assert long in text and "Eli Lilly and Company" in text
    zpl = label_zpl(_sample(directions=long))
    fields = "".join(re.findall(r"\^FD(.*?)\^FS", zpl))
    assert "at bedtime." in fields


def test_long_names_and_numbers_stay_on_the_label():
    label = _sample(
        rx_number="Rx 1234567-12",
        barcode="1234567-12",
        manufacturer=" ".join(["Northwind Pharmaceutical Manufacturing Company"] * 4),
        pharmacy_address="Suite 1200, 4500 North Lake Shore Drive East, Chicago, IL 60611-1234",
    )
    (text,) = _pdf_text(label_pdf([label]))
    assert label.manufacturer in text and label.pharmacy_address in text
    zpl = label_zpl(label)
    for x, y, height, data in re.findall(r"\^FO(\d+),(\d+)\^A0N,(\d+),\d+\^FH\^FD(.*?)\^FS", zpl):
        chars = len(re.sub(r"(_[0-9A-F]{2})+", "?", data))
        assert int(x) + chars * int(height) * 0.55 <= 812 - 20, data
        assert int(y) + int(height) <= 609, data
    (bar_x,) = re.findall(r"\^FO(\d+),\d+\^BY2", zpl)
    assert int(bar_x) + 2 * (11 * len(label.barcode) + 35) <= 812


def test_no_labels_no_pdf():
    with pytest.raises(ValueError):
        label_pdf([])


def test_the_zpl_is_ascii_with_utf8_names_and_a_code_128_barcode(pharmacy, technician, pharmacist):
    patient = PatientFactory(site=pharmacy, first_name="José", last_name="Núñez")
    label = label_data(_fresh(_filled(technician, pharmacist, patient=patient, schedule="CIV")))
    zpl = label_zpl(label)
    assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ")
    assert zpl.isascii()
    assert "^CI28" in zpl  # field data is UTF-8 …
    assert "Jos_C3_A9 N_C3_BA_C3_B1ez" in zpl  # … sent as ^FH hex: "José Núñez"
    assert re.search(r"\^BCN,\d+,Y,N,N,A\^FD" + re.escape(label.barcode) + r"\^FS", zpl)
    assert "Federal law prohibits the transfer" in zpl
    assert "^PW812" in zpl and "^LL609" in zpl  # 4 x 3 in at 203 dpi
    # Every field is opened and closed; nothing spills past the label.
    assert zpl.count("^FD") == zpl.count("^FS")
    for x, y in re.findall(r"\^FO(\d+),(\d+)", zpl):
        assert 0 <= int(x) < 812 and 0 <= int(y) < 609


def test_zpl_control_characters_in_data_cannot_start_a_command():
    zpl = label_zpl(_sample(patient_name="Ann ^XZ~JA_Lee"))
    assert "Ann _5EXZ_7EJA_5FLee" in zpl
    assert zpl.count("^XZ") == 1


# --- printing and reprinting ----------------------------------------------------------------


def test_the_first_print_then_a_reprint_with_its_reason(pharmacy, technician, pharmacist):
    fill = _filled(technician, pharmacist)
    printed = services.label_print(actor=technician, fill=fill)
    assert printed.reprint is False
    assert printed.pdf.startswith(b"%PDF-") and printed.zpl.startswith("^XA")
    assert Fill.objects.get(pk=fill.pk).labels_printed == 1
    event = FillEvent.objects.filter(fill=fill).order_by("-pk").first()
    assert (event.step, event.actor, event.to_status) == (
        FillStep.LABEL_PRINTED,
        technician,
        FillStatus.FILLED,
    )
    audit = last_event()
    assert (audit.action, audit.patient_id) == ("rx.label.printed", fill.prescription.patient_id)

    events, audits = FillEvent.objects.count(), audit_count()
    with pytest.raises(Invalid) as exc:
        services.label_print(actor=technician, fill=fill, reprint_reason="   ")
    assert exc.value.errors[0]["field"] == "reprint_reason"
    assert "already printed 1 time" in exc.value.message
    assert Fill.objects.get(pk=fill.pk).labels_printed == 1
    assert (FillEvent.objects.count(), audit_count()) == (events, audits)

    again = services.label_print(
        actor=technician, fill=fill, reprint_reason="Printer jammed  on the first label"
    )
    assert again.reprint is True and again.fill.labels_printed == 2
    event = FillEvent.objects.filter(fill=fill).order_by("-pk").first()
    assert (event.step, event.reason, event.data["copy"]) == (
        FillStep.LABEL_REPRINTED,
        "Printer jammed on the first label",
        2,
    )
    audit = last_event()
    assert (audit.action, audit.reason) == (
        "rx.label.reprinted",
        "Printer jammed on the first label",
    )


def test_ready_and_sold_fills_print_too(pharmacy, technician, pharmacist):
    fill = _filled(technician, pharmacist)
    workflow.fill_final_verify(actor=pharmacist, fill=fill)
    assert services.label_print(actor=pharmacist, fill=fill).reprint is False
    workflow.fill_sell(actor=technician, fill=fill)
    printed = services.label_print(actor=technician, fill=fill, reprint_reason="Label torn")
    assert printed.reprint is True and printed.fill.status == FillStatus.DISPENSED


@pytest.mark.parametrize("role", ["inventory", "auditor", "admin_user"])
def test_only_pharmacy_staff_print_labels(request, role, pharmacy, technician, pharmacist):
    fill = _filled(technician, pharmacist)
    events, audits = FillEvent.objects.count(), audit_count()
    with pytest.raises(Forbidden):
        services.label_print(actor=request.getfixturevalue(role), fill=fill)
    assert Fill.objects.get(pk=fill.pk).labels_printed == 0
    assert (FillEvent.objects.count(), audit_count()) == (events, audits)


def test_another_pharmacys_fill_does_not_exist(pharmacy, technician, pharmacist, outsider):
    fill = _filled(technician, pharmacist)
    with pytest.raises(NotFound):
        services.label_print(actor=outsider, fill=fill)
    assert Fill.objects.get(pk=fill.pk).labels_printed == 0


@pytest.mark.parametrize("verify", [False, True])
def test_no_label_before_the_product_is_counted_out(pharmacy, technician, pharmacist, verify):
    rx = make_rx(technician)
    fill = first_fill(rx)
    if verify:
        fill = workflow.fill_data_verify(actor=pharmacist, fill=fill)
    audits = audit_count()
    with pytest.raises(Conflict) as exc:
        services.label_print(actor=technician, fill=fill)
    assert exc.value.field == "status"
    assert "prints once the product has been counted out" in exc.value.message
    assert Fill.objects.get(pk=fill.pk).labels_printed == 0
    assert audit_count() == audits
    assert not AuditEvent.objects.filter(action__startswith="rx.label").exists()
