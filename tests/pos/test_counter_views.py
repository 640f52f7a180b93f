"""The counter screens through the Django client: find a bag by its label, the will-call card,
the pickup form (errors beside the fields, typed values kept, nothing written), counseling
(a pharmacist only), the sale with its items and tenders, and a walk-in sale."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent
from rxdesk.patients.models import Patient
from rxdesk.patients.services import patient_household_join
from rxdesk.pos.choices import Counseling, PickupPerson, SaleStatus, TenderKind
from rxdesk.pos.models import Pickup, Sale, SaleLine, Tender
from rxdesk.pos.services.accounts import house_account_create
from rxdesk.pos.services.drawers import drawer_open
from rxdesk.pos.services.pickup import pickup_record, pickup_start
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.pos.factories import otc_package, price, ready_fill, signature

pytestmark = pytest.mark.django_db

SIGNED = "data:image/png;base64," + base64.b64encode(signature()).decode()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def code(fill: Fill) -> str:
    return f"{fill.prescription.number}-{fill.number}"


def priced(fill: Fill, amount: str = "12.00") -> Fill:
    """A usual-and-customary price on the fill's package (30 per package: 30 cost ``amount``)."""
    assert fill.package is not None
    price(fill.package, amount)
    return fill


def dob(patient: Patient) -> str:
    return patient.date_of_birth.strftime("%m/%d/%Y")


def pickup_data(patient: Patient, **over: str) -> dict[str, str]:
    data = {
        "person": PickupPerson.PATIENT,
        "person_name": f"{patient.first_name} {patient.last_name}",
        "date_of_birth": dob(patient),
        "second_identifier": "address",
        "counseling": Counseling.DECLINED,
        "signature": SIGNED,
    }
    data.update(over)
    return data


def started(technician, fill: Fill) -> Sale:
    return pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])


# --- The counter and the will-call card --------------------------------------------------------


def test_it_opens_the_will_call_card_when_a_bag_label_is_scanned(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    client = client_for(technician)

    response = client.get(reverse("counter"), {"q": code(fill)})

    patient = fill.prescription.patient
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("counter_patient", kwargs={"pk": patient.pk}) + f"?scan={code(fill)}"
    )
    card = client.get(response["Location"])
    assert card.status_code == 200
    html = card.content.decode()
    assert f'data-bag="{code(fill)}"' in html
    assert "$12.00" in html
    assert f'value="{fill.pk}" id="bag-{fill.pk}" checked' in html
    assert fill.bin in html
    # The birth date is asked at pickup, never shown to be read out.
    assert dob(patient) not in html


def test_it_lists_patients_found_by_name_and_says_when_nothing_matches(technician, pharmacist):
    fill = ready_fill(technician, pharmacist)
    patient = fill.prescription.patient
    client = client_for(technician)

    found = client.get(reverse("counter"), {"q": patient.last_name})
    nothing = client.get(reverse("counter"), {"q": "Zzyzx"})

    assert found.status_code == 200
    assert reverse("counter_patient", kwargs={"pk": patient.pk}) in found.content.decode()
    assert "Nothing in will-call matches “Zzyzx”." in nothing.content.decode()


def test_the_card_flags_the_fridge_and_shows_a_bag_past_its_return_window_unselectable(
    technician, pharmacist, site
):
    cold = priced(ready_fill(technician, pharmacist))
    cold.prescription.product.cold_chain = True
    cold.prescription.product.save(update_fields=["cold_chain"])
    patient = cold.prescription.patient
    old = priced(ready_fill(technician, pharmacist, patient=patient))
    Fill.objects.filter(pk=old.pk).update(dispensed_on=site.today() - dt.timedelta(days=11))

    response = client_for(technician).get(reverse("counter_patient", kwargs={"pk": patient.pk}))

    html = response.content.decode()
    assert "From the fridge" in html
    assert f'value="{cold.pk}"' in html
    assert f'value="{old.pk}"' not in html  # no checkbox to tick
    assert "Past the plan&#x27;s return window" in html


def test_a_household_members_bag_is_labelled_and_can_be_picked_up(technician, pharmacist):
    own = priced(ready_fill(technician, pharmacist))
    theirs = priced(ready_fill(technician, pharmacist))
    patient, spouse = own.prescription.patient, theirs.prescription.patient
    patient_household_join(actor=technician, patient=spouse, with_patient=patient)
    client = client_for(technician)
    url = reverse("counter_patient", kwargs={"pk": patient.pk})

    html = client.get(url).content.decode()
    response = client.post(url, {"fills": [own.pk, theirs.pk]})

    assert f"For <strong>{spouse.first_name} {spouse.last_name}</strong> (household)" in html
    # Not ticked by default: someone else's medicine is handed out only on purpose.
    assert f'value="{theirs.pk}" id="bag-{theirs.pk}" aria-label' in html
    sale = Sale.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("counter_pickup", kwargs={"pk": sale.pk})
    assert sorted(SaleLine.objects.filter(sale=sale).values_list("fill_id", flat=True)) == sorted(
        [own.pk, theirs.pk]
    )


def test_starting_a_pickup_with_no_bag_ticked_says_so_and_writes_nothing(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    url = reverse("counter_patient", kwargs={"pk": fill.prescription.patient_id})

    response = client_for(technician).post(url, {})

    assert response.status_code == 422
    assert "Tick at least one bag to hand out." in response.content.decode()
    assert Sale.objects.count() == 0


def test_a_bag_with_no_price_needs_one_typed(technician, pharmacist):
    fill = ready_fill(technician, pharmacist)  # no price on file
    url = reverse("counter_patient", kwargs={"pk": fill.prescription.patient_id})
    client = client_for(technician)

    bad = client.post(url, {"fills": [fill.pk], f"price_{fill.pk}": "twelve"})
    missing = client.post(url, {"fills": [fill.pk]})
    typed = client.post(url, {"fills": [fill.pk], f"price_{fill.pk}": "7.50"})

    assert bad.status_code == 422
    assert "Type an amount in dollars and cents, like 12.50." in bad.content.decode()
    assert 'value="twelve"' in bad.content.decode()
    assert missing.status_code == 409
    assert Sale.objects.count() == 1
    sale = Sale.objects.get()
    assert typed["Location"] == reverse("counter_pickup", kwargs={"pk": sale.pk})
    assert sale.total == Decimal("7.50")


def test_a_bag_already_on_an_open_sale_is_refused_beside_the_bags(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    started(technician, fill)
    url = reverse("counter_patient", kwargs={"pk": fill.prescription.patient_id})

    response = client_for(technician).post(url, {"fills": [fill.pk]})

    assert response.status_code == 409
    assert 'id="fills-errors"' in response.content.decode()
    assert Sale.objects.count() == 1


# --- The pickup form ---------------------------------------------------------------------------


def test_the_pickup_form_names_each_missing_field_and_keeps_what_was_typed(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)
    url = reverse("counter_pickup", kwargs={"pk": sale.pk})
    events = AuditEvent.objects.exclude(action__startswith="auth.").count()

    response = client_for(technician).post(
        url, {"person": PickupPerson.CAREGIVER, "person_name": "Rosa Diaz"}
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert "Ask for the patient&#x27;s date of birth and type it." in html
    assert "Choose the second thing you checked (address, phone…)." in html
    assert "Offer counseling and mark accepted or declined." in html
    assert 'value="Rosa Diaz"' in html
    assert Pickup.objects.count() == 0
    assert AuditEvent.objects.exclude(action__startswith="auth.").count() == events


def test_a_date_of_birth_that_does_not_match_is_refused_beside_it(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)
    patient = fill.prescription.patient
    wrong = (patient.date_of_birth + dt.timedelta(days=1)).strftime("%m/%d/%Y")

    response = client_for(technician).post(
        reverse("counter_pickup", kwargs={"pk": sale.pk}),
        pickup_data(patient, date_of_birth=wrong),
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert 'id="id_date_of_birth_error"' in html
    assert f'value="{wrong}"' in html
    # The drawn signature comes back so it does not have to be drawn again.
    assert SIGNED[:60] in html
    assert Pickup.objects.count() == 0


def test_a_pickup_without_a_signature_is_refused_beside_the_pad(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)

    response = client_for(technician).post(
        reverse("counter_pickup", kwargs={"pk": sale.pk}),
        pickup_data(fill.prescription.patient, signature=""),
    )

    assert response.status_code == 422
    assert 'id="id_signature_error"' in response.content.decode()
    assert Pickup.objects.count() == 0


def test_the_id_fields_show_only_for_a_controlled_substance(technician, pharmacist):
    plain = priced(ready_fill(technician, pharmacist))
    cii = priced(ready_fill(technician, pharmacist, schedule="CII", refills_authorized=0))
    client = client_for(technician)

    plain_form = client.get(reverse("counter_pickup", kwargs={"pk": started(technician, plain).pk}))
    cii_sale = started(technician, cii)
    cii_form = client.get(reverse("counter_pickup", kwargs={"pk": cii_sale.pk}))
    missing = client.post(
        reverse("counter_pickup", kwargs={"pk": cii_sale.pk}),
        pickup_data(cii.prescription.patient),
    )

    assert 'name="id_type"' not in plain_form.content.decode()
    assert 'name="id_type"' in cii_form.content.decode()
    assert missing.status_code == 422
    assert 'id="id_id_type_error"' in missing.content.decode()
    assert Pickup.objects.count() == 0


def test_the_privacy_notice_box_shows_only_when_none_is_on_file(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    patient = fill.prescription.patient
    Patient.objects.filter(pk=patient.pk).update(privacy_notice="", privacy_notice_on=None)
    sale = started(technician, fill)
    url = reverse("counter_pickup", kwargs={"pk": sale.pk})
    client = client_for(technician)

    form = client.get(url)
    done = client.post(url, pickup_data(patient, privacy_notice_acknowledged="on"))

    assert 'name="privacy_notice_acknowledged"' in form.content.decode()
    assert done.status_code == 302
    patient.refresh_from_db()
    assert patient.privacy_notice == "signed"
    assert Pickup.objects.get().privacy_notice_acknowledged is True


def test_a_declined_counseling_goes_straight_to_the_payment(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)

    response = client_for(technician).post(
        reverse("counter_pickup", kwargs={"pk": sale.pk}), pickup_data(fill.prescription.patient)
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("counter_pay", kwargs={"pk": sale.pk})
    pickup = Pickup.objects.get()
    assert bytes(pickup.signature) == signature()


# --- Counseling --------------------------------------------------------------------------------


def test_accepted_counseling_waits_for_the_pharmacist_who_records_it_there(
    technician, trainee, pharmacist
):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)
    tech = client_for(technician)
    url = reverse("counter_counsel", kwargs={"pk": sale.pk})

    recorded = tech.post(
        reverse("counter_pickup", kwargs={"pk": sale.pk}),
        pickup_data(fill.prescription.patient, counseling=Counseling.ACCEPTED),
    )
    waiting = tech.get(url)
    poll = tech.get(url, HTTP_HX_REQUEST="true")
    pay_early = tech.get(reverse("counter_pay", kwargs={"pk": sale.pk}))
    refused = client_for(trainee).post(url, {"note": "Take with food."})
    rph = client_for(pharmacist)
    rph_page = rph.get(url)
    counseled = rph.post(url, {"note": "Take with food; may cause drowsiness."})
    poll_after = tech.get(url, HTTP_HX_REQUEST="true")

    assert recorded["Location"] == url
    assert "Waiting for the pharmacist to counsel." in waiting.content.decode()
    assert 'name="note"' not in waiting.content.decode()
    assert 'hx-trigger="every 5s"' in poll.content.decode()
    assert pay_early["Location"] == url
    assert refused.status_code == 403
    assert 'name="note"' in rph_page.content.decode()
    assert counseled["Location"] == reverse("counter_pay", kwargs={"pk": sale.pk})
    assert poll_after["HX-Redirect"] == reverse("counter_pay", kwargs={"pk": sale.pk})
    pickup = Pickup.objects.get()
    assert pickup.counseled_by == pharmacist
    assert pickup.counseling_note == "Take with food; may cause drowsiness."


def test_a_pharmacist_must_write_the_counseling_note(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)
    pickup_record(
        actor=technician,
        sale=sale,
        **{
            **pickup_data(fill.prescription.patient, counseling=Counseling.ACCEPTED),
            "date_of_birth": fill.prescription.patient.date_of_birth,
        },
    )

    response = client_for(pharmacist).post(reverse("counter_counsel", kwargs={"pk": sale.pk}), {})

    assert response.status_code == 422
    assert "Write what you counseled the patient on." in response.content.decode()
    sale.refresh_from_db()
    assert sale.status == SaleStatus.AWAITING_COUNSEL


# --- The sale ----------------------------------------------------------------------------------


def test_the_whole_pickup_pays_cash_with_change_and_the_fill_is_sold(technician, pharmacist):
    drawer_open(actor=technician, opening_cash="150.00")
    fill = priced(ready_fill(technician, pharmacist), "12.00")
    item = otc_package(name="Loratadine", retail="9.99")
    client = client_for(technician)

    scanned = client.get(reverse("counter"), {"q": code(fill)})
    card = client.get(scanned["Location"])
    start = client.post(scanned["Location"].split("?")[0], {"fills": [fill.pk]})
    sale = Sale.objects.get()
    recorded = client.post(start["Location"], pickup_data(fill.prescription.patient))
    added = client.post(
        reverse("counter_item", kwargs={"pk": sale.pk}), {"code": item.ndc10, "quantity": "2"}
    )
    page = client.get(reverse("counter_pay", kwargs={"pk": sale.pk}))
    sale.refresh_from_db()
    paid = client.post(
        reverse("counter_pay", kwargs={"pk": sale.pk}),
        {"cash_amount": str(sale.total), "cash_tendered": "50.00"},
    )
    done = client.get(paid["Location"])

    assert card.status_code == 200
    assert recorded["Location"] == reverse("counter_pay", kwargs={"pk": sale.pk})
    assert added.status_code == 302
    assert "Loratadine" in page.content.decode()
    assert sale.total == Decimal("12.00") + Decimal("19.98") + sale.tax
    assert paid["Location"] == reverse("counter_done", kwargs={"pk": sale.pk})
    sale.refresh_from_db()
    assert sale.status == SaleStatus.COMPLETED
    assert sale.change_given == Decimal("50.00") - sale.total
    assert f"Change to give: <strong>${sale.change_given}</strong>" in done.content.decode()
    assert reverse("pos_sale_receipt_pdf", kwargs={"pk": sale.pk}) in done.content.decode()
    fill.refresh_from_db()
    assert fill.status == FillStatus.DISPENSED
    tender = Tender.objects.get(sale=sale)
    assert (tender.kind, tender.amount, tender.tendered) == (
        TenderKind.CASH,
        sale.total,
        Decimal("50.00"),
    )


def test_an_unknown_item_is_refused_beside_the_scan_box(technician):
    sale_page = client_for(technician).post(reverse("counter_new_sale"))
    sale = Sale.objects.get()

    response = client_for(technician).post(
        reverse("counter_item", kwargs={"pk": sale.pk}), {"code": "99999-9999-99", "quantity": "1"}
    )

    assert sale_page["Location"] == reverse("counter_pay", kwargs={"pk": sale.pk})
    assert sale.patient is None
    assert response.status_code == 422
    assert 'id="id_code_error"' in response.content.decode()
    assert SaleLine.objects.count() == 0


def test_card_and_house_tenders_need_their_details(technician, pharmacist, pic):
    drawer_open(actor=technician, opening_cash="100.00")
    client = client_for(technician)
    client.post(reverse("counter_new_sale"))
    sale = Sale.objects.get()
    item = otc_package(retail="20.00")
    client.post(
        reverse("counter_item", kwargs={"pk": sale.pk}), {"code": item.ndc10, "quantity": "1"}
    )
    sale.refresh_from_db()
    url = reverse("counter_pay", kwargs={"pk": sale.pk})

    no_last4 = client.post(url, {"card_amount": str(sale.total), "card_approval": "A1B2"})
    no_account = client.post(url, {"house_amount": str(sale.total), "house_account": "H-404"})
    nothing = client.post(url, {})

    assert no_last4.status_code == 422
    assert "Type the card&#x27;s last four digits." in no_last4.content.decode()
    assert no_account.status_code == 422
    assert "No house account numbered H-404 here." in no_account.content.decode()
    assert nothing.status_code == 422
    assert "Type how the customer pays (cash, card, …)." in nothing.content.decode()
    assert Tender.objects.count() == 0

    house_account_create(actor=pic, number="H-100", name="Garcia family")
    split = client.post(
        url,
        {
            "card_amount": "10.00",
            "card_last4": "4242",
            "card_approval": "A1B2C3",
            "house_amount": str(sale.total - Decimal("10.00")),
            "house_account": "H-100",
        },
    )
    assert split["Location"] == reverse("counter_done", kwargs={"pk": sale.pk})
    assert sorted(Tender.objects.values_list("kind", "reference")) == [
        (TenderKind.CARD, "4242 A1B2C3"),
        (TenderKind.HOUSE, ""),
    ]


def test_a_payment_short_of_the_total_is_refused_and_nothing_is_sold(technician, pharmacist):
    drawer_open(actor=technician, opening_cash="100.00")
    fill = priced(ready_fill(technician, pharmacist), "12.00")
    sale = started(technician, fill)
    client = client_for(technician)
    client.post(
        reverse("counter_pickup", kwargs={"pk": sale.pk}), pickup_data(fill.prescription.patient)
    )

    response = client.post(reverse("counter_pay", kwargs={"pk": sale.pk}), {"cash_amount": "5.00"})

    assert response.status_code == 422
    assert "add up to $5.00" in response.content.decode()
    assert Tender.objects.count() == 0
    fill.refresh_from_db()
    assert fill.status == FillStatus.READY


def test_removing_a_line_and_cancelling_leave_the_bag_in_will_call(technician, pharmacist):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)
    client = client_for(technician)
    line = SaleLine.objects.get(sale=sale)

    removed = client.post(
        reverse("counter_remove_line", kwargs={"pk": sale.pk, "line_pk": line.pk})
    )
    no_reason = client.post(reverse("counter_cancel", kwargs={"pk": sale.pk}), {"reason": ""})
    cancelled = client.post(
        reverse("counter_cancel", kwargs={"pk": sale.pk}), {"reason": "Patient left"}
    )

    assert removed["Location"] == reverse("counter_pay", kwargs={"pk": sale.pk})
    assert SaleLine.objects.filter(sale=sale).count() == 0
    assert no_reason.status_code == 302
    assert cancelled["Location"] == reverse("counter")
    sale.refresh_from_db()
    assert sale.status == SaleStatus.VOIDED
    fill.refresh_from_db()
    assert fill.status == FillStatus.READY


def test_another_pharmacys_sale_does_not_exist_here(technician, pharmacist, outsider):
    fill = priced(ready_fill(technician, pharmacist))
    sale = started(technician, fill)

    for name in ("counter_pickup", "counter_pay", "counter_counsel", "counter_done"):
        response = client_for(outsider).get(reverse(name, kwargs={"pk": sale.pk}))
        assert response.status_code == 404, name
    card = client_for(outsider).get(
        reverse("counter_patient", kwargs={"pk": fill.prescription.patient_id})
    )
    assert card.status_code == 404


def test_the_counter_is_refused_to_roles_that_do_not_sell(auditor, inventory):
    for user in (auditor, inventory):
        assert client_for(user).get(reverse("counter")).status_code == 403
    assert client_for(auditor).post(reverse("counter_new_sale")).status_code == 403
    assert Sale.objects.count() == 0


def test_a_prescription_only_item_is_refused_at_the_counter(technician):
    client = client_for(technician)
    client.post(reverse("counter_new_sale"))
    sale = Sale.objects.get()
    product = ProductFactory(name="Lisinopril", product_type="HUMAN PRESCRIPTION DRUG")
    rx_only = PackageFactory(product=product, ndc10="0591-0407-01", description="100 TABLET")
    price(rx_only, "4.00")

    response = client.post(
        reverse("counter_item", kwargs={"pk": sale.pk}), {"code": rx_only.ndc10, "quantity": "1"}
    )

    assert response.status_code == 409
    assert "needs a prescription" in response.content.decode()
    assert SaleLine.objects.count() == 0


def test_the_counter_says_when_no_cash_drawer_is_open(technician):
    client = client_for(technician)

    closed = client.get(reverse("counter")).content.decode()
    drawer_open(actor=technician, opening_cash="150.00")
    opened = client.get(reverse("counter")).content.decode()

    assert "No cash drawer is open" in closed
    assert "No cash drawer is open" not in opened
