"""Will-call search: by bag label, date of birth, bin and name; the household; flags."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rxdesk.catalog.models import Product
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.patients.models import Patient, key_upper_bound
from rxdesk.patients.services import patient_household_join
from rxdesk.pos.pricing import (
    fill_price,
    fill_prices,
    register_patient_pay,
    unregister_patient_pay,
)
from rxdesk.pos.queries_willcall import will_call_for, will_call_search
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from tests.conftest import last_event
from tests.factories import PatientFactory
from tests.pos.factories import price, ready_fill
from tests.rx.factories import first_fill, make_rx


@pytest.fixture
def fill(technician, pharmacist) -> Fill:
    f = ready_fill(technician, pharmacist)
    patient = f.prescription.patient
    patient.last_name, patient.first_name = "Okafor", "Janet"
    patient.date_of_birth = dt.date(1980, 2, 29)
    patient.save()
    Fill.objects.filter(pk=f.pk).update(bin="O")
    f.refresh_from_db()
    price(f.prescription.package, "30.00")
    return f


def _ids(found) -> list[int]:
    return [w.patient.pk for w in found]


@pytest.mark.parametrize(
    "q",
    ["okafor", "Okafor, Ja", "okafor ja", "1980-02-29", "02/29/1980", "02291980", "bin O", "o"],
)
def test_it_finds_the_patient_every_way(technician, fill, q):
    found = will_call_search(actor=technician, q=q)
    assert _ids(found) == [fill.prescription.patient_id]
    [ready] = found[0].ready
    assert ready.fill == fill and ready.price == Decimal("30.00") and ready.bin == "O"
    assert not ready.refrigerated and not ready.past_return_window and not ready.on_delivery


@pytest.mark.parametrize("code", ["{n}-0", " {n} - 0 ", "{n} 0"])
def test_it_finds_the_bag_by_its_label(technician, fill, code):
    found = will_call_search(actor=technician, q=code.format(n=fill.prescription.number))
    assert _ids(found) == [fill.prescription.patient_id]


def test_a_name_that_matches_nobody_finds_nobody(technician, fill):
    assert will_call_search(actor=technician, q="zyx") == []
    assert will_call_search(actor=technician, q="okafor, b") == []


def test_an_impossible_date_is_invalid(technician, fill):
    with pytest.raises(Invalid) as exc:
        will_call_search(actor=technician, q="02/30/1980")
    assert exc.value.field == "q"


def test_each_search_writes_one_phi_access_event_without_the_query(technician, fill):
    before = AuditEvent.objects.count()
    will_call_search(actor=technician, q="okafor")
    assert AuditEvent.objects.count() == before + 1
    event = last_event()
    assert event.action == "pos.willcall.searched" and "okafor" not in event.data.lower()
    assert json.loads(event.data)["patients"] == [fill.prescription.patient_id]


def test_flags_refrigerated_controlled_and_past_the_window(technician, pharmacist, site):
    f = ready_fill(technician, pharmacist, schedule="CII", refills_authorized=0)
    Product.objects.filter(pk=f.prescription.product_id).update(storage="refrigerate")
    Fill.objects.filter(pk=f.pk).update(dispensed_on=site.today() - dt.timedelta(days=11))
    found = will_call_for(actor=technician, patient=f.prescription.patient)
    [ready] = found.ready
    assert ready.refrigerated and ready.schedule == "2" and ready.past_return_window
    assert ready.price is None  # no price on file
    assert found.id_required and not found.privacy_notice_on_file


def test_the_household_bags_and_in_progress_fills_are_shown(technician, pharmacist, fill):
    patient = fill.prescription.patient
    spouse_fill = ready_fill(technician, pharmacist)
    spouse = spouse_fill.prescription.patient
    patient_household_join(actor=technician, patient=spouse, with_patient=patient)
    from tests.rx.factories import make_rx

    make_rx(technician, patient=patient)  # queued: in progress

    found = will_call_for(actor=technician, patient=patient)
    assert [m.patient.pk for m in found.household] == [spouse.pk]
    assert [r.fill.pk for r in found.household[0].ready] == [spouse_fill.pk]
    assert len(found.in_progress) == 1 and found.in_progress[0].step.startswith("Entered")


def test_a_registered_patient_pay_wins_over_the_cash_price(fill):
    def copay(fills: list[Fill]) -> dict[int, Decimal]:
        return {f.pk: Decimal("4.00") for f in fills}

    register_patient_pay(copay)
    try:
        assert fill_price(fill) == Decimal("4.00")
    finally:
        unregister_patient_pay(copay)
    assert fill_price(fill) == Decimal("30.00")


def test_roles_without_rx_sell_cannot_search(auditor, inventory, fill):
    before = AuditEvent.objects.count()
    for actor in (auditor, inventory):
        with pytest.raises(Forbidden):
            will_call_search(actor=actor, q="okafor")
    assert AuditEvent.objects.count() == before


def test_another_pharmacys_patient_is_not_found(outsider, fill):
    with pytest.raises((NotFound, Forbidden)):
        will_call_for(actor=outsider, patient=fill.prescription.patient)
    assert will_call_search(actor=outsider, q="okafor") == []


# --- Cost: a fixed number of queries however many patients are found ----------------------


def _waiting(technician, patient: Patient, *, bin: str, amount: str | None = "12.00") -> Fill:
    """A bag for ``patient`` in will-call, put there straight in the table (the workflow is
    tested elsewhere; here only the search's reads count)."""
    rx = make_rx(technician, patient=patient)
    fill = first_fill(rx)
    Fill.objects.filter(pk=fill.pk).update(
        status=FillStatus.READY,
        bin=bin,
        ready_at=timezone.now(),
        dispensed_on=technician.site.today(),
        package=rx.package,
    )
    if amount is not None:
        price(rx.package, amount)
    return fill


def _surname_file(technician, count: int) -> list[Patient]:
    """``count`` patients named Lindqvist with 2 bags each; every fifth one shares a
    household with a spouse who has a bag too."""
    found = []
    for i in range(count):
        patient = PatientFactory(site=technician.site, last_name="Lindqvist", first_name=f"P{i}")
        _waiting(technician, patient, bin="L")
        _waiting(technician, patient, bin="L", amount=None)
        if i % 5 == 0:
            spouse = PatientFactory(site=technician.site, last_name="Berg", first_name=f"S{i}")
            _waiting(technician, spouse, bin="B")
            patient_household_join(actor=technician, patient=spouse, with_patient=patient)
        found.append(patient)
    return found


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def test_a_name_search_costs_the_same_few_queries_for_1_or_20_patients(technician):
    _surname_file(technician, 1)
    one = _queries(lambda: will_call_search(actor=technician, q="lindqvist"))
    _surname_file(technician, 19)

    with CaptureQueriesContext(connection) as captured:
        found = will_call_search(actor=technician, q="lindqvist")

    assert len(found) == 20
    # 12 for the will-call card, 1 for the claims' patient pay.
    assert len(captured.captured_queries) == one <= 13
    assert all(len(w.ready) == 2 and {r.bin for r in w.ready} == {"L"} for w in found)
    assert (
        sorted(r.price for w in found for r in w.ready if r.price is not None)
        == [Decimal("12.00")] * 20
    )
    with_spouse = [w for w in found if w.household]
    assert len(with_spouse) == 5  # P0 of each batch, then every fifth
    assert all(len(w.household) == 1 and len(w.household[0].ready) == 1 for w in with_spouse)
    assert all(w.in_progress == [] and w.refills_due == [] for w in found)


def test_a_date_of_birth_or_bin_search_costs_a_few_queries_too(technician):
    _surname_file(technician, 20)
    assert _queries(lambda: will_call_search(actor=technician, q="05/17/1970")) <= 13
    assert _queries(lambda: will_call_search(actor=technician, q="bin L")) <= 13


def test_the_card_reads_the_settings_once_and_prices_in_one_query(technician):
    [patient] = _surname_file(technician, 1)
    for _ in range(3):
        _waiting(technician, patient, bin="L")

    with CaptureQueriesContext(connection) as captured:
        card = will_call_for(actor=technician, patient=patient)

    sql = [q["sql"] for q in captured.captured_queries]
    assert len(card.ready) == 5 and len(card.household) == 1
    assert sum('FROM "rx_rxsettings"' in q for q in sql) == 1
    assert sum('FROM "pos_possettings"' in q for q in sql) == 0  # no controlled bag
    assert sum('"catalog_packageprice"' in q for q in sql) == 1


# --- Name prefixes as index ranges ------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "finds"),
    [
        ("smi", ["Smith", "Smithe"]),
        ("smith", ["Smith", "Smithe"]),
        ("smithe", ["Smithe"]),
        ("smj", ["Smjth"]),
        ("diaz", ["Diaz", "Diazo"]),
        ("smi, jo", ["Smith"]),
    ],
)
def test_a_name_prefix_finds_exactly_the_names_that_start_with_it(technician, q, finds):
    for last in ("Smith", "Smithe", "Smjth", "Diaz", "Diazo", "Dib", "Smh"):
        patient = PatientFactory(
            site=technician.site, last_name=last, first_name="Jo" if last == "Smith" else "Al"
        )
        _waiting(technician, patient, bin=last[0])

    found = will_call_search(actor=technician, q=q)

    assert sorted(w.patient.last_name for w in found) == finds


@pytest.mark.parametrize(
    ("prefix", "upper"),
    [("smi", "smj"), ("diaz", "dib"), ("a9", "aa"), ("zz", None), ("s\u00f8", "t"), ("", None)],
)
def test_the_upper_bound_of_a_key_prefix_stays_in_the_key_alphabet(prefix, upper):
    assert key_upper_bound(prefix) == upper


def test_the_bag_label_lookup_is_bounded_by_the_prescription_site(technician, fill):
    with CaptureQueriesContext(connection) as captured:
        will_call_search(actor=technician, q=f"{fill.prescription.number}-0")
    lookup = captured.captured_queries[0]["sql"]
    assert '"rx_prescription"."site_id" =' in lookup and '"rx_fill"."site_id" =' in lookup


# --- Prices of many fills -----------------------------------------------------------------


def test_fill_prices_matches_fill_price_for_each_fill(technician, pharmacist, fill):
    unpriced = ready_fill(technician, pharmacist)
    fills = list(
        Fill.objects.filter(pk__in=[fill.pk, unpriced.pk]).select_related(
            "package", "prescription__package"
        )
    )

    with CaptureQueriesContext(connection) as captured:
        prices = fill_prices(fills)

    assert prices == {fill.pk: Decimal("30.00"), unpriced.pk: None}
    assert prices == {f.pk: fill_price(f) for f in fills}
    # One for the claims' patient pay of all the fills, one for their cash prices.
    assert len(captured.captured_queries) == 2


def test_fill_prices_asks_a_registered_patient_pay_once_for_all_fills(technician, pharmacist, fill):
    other = ready_fill(technician, pharmacist)
    price(other.prescription.package, "8.00")
    asked: list[list[int]] = []

    def copay(fills: list[Fill]) -> dict[int, Decimal]:
        asked.append([f.pk for f in fills])
        return {f.pk: Decimal("4.004") for f in fills if f.pk == fill.pk}  # other falls through

    register_patient_pay(copay)
    try:
        prices = fill_prices([fill, other])
    finally:
        unregister_patient_pay(copay)
    assert asked == [[fill.pk, other.pk]]
    assert prices == {fill.pk: Decimal("4.00"), other.pk: Decimal("8.00")}
