"""The fill workflow's screens: the step queues (counts, order, timers, filters, the polling
partial), data verification, the fill screen with its scan box, final verification with the
label, the buttons (hold, release, priority, hand out, return to stock) and a fill's history.
Each works for the roles that may use it; a technician never reaches a pharmacist's step
(403, nothing written); a broken rule is shown beside the field it names."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rxdesk.core.models import AuditEvent, User
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.rx import services
from rxdesk.rx.choices import FillStatus, FillStep, Priority
from rxdesk.rx.models import Fill, FillEvent, Prescription
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import AllergyFactory
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def text_of(response: Any) -> str:
    html = response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def flash(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def rows() -> dict[str, int]:
    """What a refused or broken request must not change."""
    return {
        "fills": Fill.objects.count(),
        "events": FillEvent.objects.count(),
        "moves": StockMove.objects.count(),
        "audit": AuditEvent.objects.exclude(action__startswith="auth.").count(),
        "statuses": hash(tuple(Fill.objects.order_by("pk").values_list("status", flat=True))),
    }


def queued(technician: User, **over: Any) -> Fill:
    """A typed prescription with its package on the shelf; its first fill is queued."""
    rx = make_rx(technician, **over)
    stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    return first_fill(rx)


def to_fill(technician: User, pharmacist: User, **over: Any) -> Fill:
    return workflow.fill_data_verify(actor=pharmacist, fill=queued(technician, **over))


def filled(technician: User, pharmacist: User, **over: Any) -> Fill:
    fill = to_fill(technician, pharmacist, **over)
    package = fill.prescription.package
    return workflow.fill_product(actor=technician, fill=fill, scanned_code=package.ndc10)


def ready(technician: User, pharmacist: User) -> Fill:
    return workflow.fill_final_verify(actor=pharmacist, fill=filled(technician, pharmacist))


def order_in(response: Any) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-fill="(\d+)"', response.content.decode())]


# --- Queues --------------------------------------------------------------------------------------


def test_it_shows_each_step_with_its_count_always_visible(technician, pharmacist):
    queued(technician)
    to_fill(technician, pharmacist)
    filled(technician, pharmacist)
    response = signed_in(technician).get(reverse("fill_queue"), {"step": "data"})
    assert response.status_code == 200
    page = text_of(response)
    for label, count in (
        ("Data verification", 1),
        ("Fill", 1),
        ("Final verification", 1),
        ("Ready in will-call", 0),
        ("On hold", 0),
        ("Waiting until fillable", 0),
        ("Return to stock", 0),
    ):
        assert f"{label} {count}" in page
    # The data-verification tab is open: one row, opened for a technician on its history.
    fill = Fill.objects.get(status=FillStatus.QUEUED)
    assert order_in(response) == [fill.pk]
    assert reverse("fill_history", kwargs={"pk": fill.pk}) in response.content.decode()
    # Each opens where the role can work: a technician at filling, a pharmacist at data
    # verification.
    technician_default = signed_in(technician).get(reverse("fill_queue"))
    assert order_in(technician_default) == [Fill.objects.get(status=FillStatus.TO_FILL).pk]
    assert order_in(signed_in(pharmacist).get(reverse("fill_queue"))) == [fill.pk]


def test_each_tab_lists_its_step_and_opens_the_steps_screen(technician, pharmacist):
    data = queued(technician)
    fill = to_fill(technician, pharmacist)
    done = filled(technician, pharmacist)
    client = signed_in(pharmacist)
    for step, expected, screen in (
        ("data", data, "fill_data_verify"),
        ("fill", fill, "fill_product"),
        ("verify", done, "fill_final_verify"),
    ):
        response = client.get(reverse("fill_queue"), {"step": step})
        assert order_in(response) == [expected.pk], step
        url = reverse(screen, kwargs={"pk": expected.pk})
        # The next fill opens with one key ("n").
        assert re.search(rf'href="{url}" id="open-next" data-key="n"', response.content.decode())


def test_the_queue_sorts_by_priority_then_promised_time_then_request(technician):
    normal = queued(technician)
    later_promise = queued(technician)
    waiter = queued(technician)
    stat = queued(technician)
    sooner_promise = queued(technician)
    now = timezone.now()
    for fill, priority, promised in (
        (later_promise, Priority.PROMISED, now + dt.timedelta(hours=3)),
        (waiter, Priority.WAITER, None),
        (stat, Priority.STAT, None),
        (sooner_promise, Priority.PROMISED, now + dt.timedelta(hours=1)),
    ):
        workflow.fill_priority_set(
            actor=technician, fill=fill, priority=priority, promised_at=promised
        )
    response = signed_in(technician).get(reverse("fill_queue"), {"step": "data"})
    assert order_in(response) == [
        stat.pk,
        waiter.pk,
        sooner_promise.pk,
        later_promise.pk,
        normal.pk,
    ]


def test_a_waiter_past_the_service_target_turns_red(technician):
    waiter = queued(technician)
    normal = queued(technician)
    workflow.fill_priority_set(actor=technician, fill=waiter, priority=Priority.WAITER)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16), tick=False):
        response = signed_in(technician).get(reverse("fill_queue"), {"step": "data"})
    html = response.content.decode()
    assert re.search(rf'<tr class="prio-waiter late" id="row-{waiter.pk}">', html)
    assert re.search(rf'<tr class="prio-normal" id="row-{normal.pk}">', html)
    assert "16 min" in text_of(response)


def test_the_filters_narrow_the_rows_by_patient_prescriber_and_drug(technician):
    mine = queued(technician)
    other = queued(technician)
    patient = other.prescription.patient
    patient.last_name, patient.first_name = "Zyskowski", "Ona"
    patient.save()
    client = signed_in(technician)
    assert order_in(client.get(reverse("fill_queue"), {"step": "data", "patient": "zysk, o"})) == [
        other.pk
    ]
    assert order_in(client.get(reverse("fill_queue"), {"step": "data", "patient": "nobody"})) == []
    assert set(order_in(client.get(reverse("fill_queue"), {"step": "data", "drug": "prozac"}))) == {
        mine.pk,
        other.pk,
    }
    ndc = mine.prescription.package.ndc10
    assert order_in(client.get(reverse("fill_queue"), {"step": "data", "drug": ndc})) == [mine.pk]
    npi = mine.prescription.prescriber.npi
    assert set(
        order_in(client.get(reverse("fill_queue"), {"step": "data", "prescriber": npi}))
    ) == {
        mine.pk,
        other.pk,
    }
    response = client.get(reverse("fill_queue"), {"step": "data", "patient": "nobody"})
    assert "No fill at this step matches the filter." in text_of(response)


def test_the_polling_partial_holds_the_tabs_and_rows_only(technician, pharmacist):
    fill = queued(technician)
    to_fill(technician, pharmacist)
    response = signed_in(technician).get(
        reverse("fill_queue_rows"), {"step": "data", "patient": "doe"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and '<nav class="tabs step-tabs"' in html
    assert 'hx-trigger="every 15s"' in html
    assert f'hx-get="{reverse("fill_queue_rows")}?step=data&amp;patient=doe"' in html
    assert order_in(response) == [fill.pk]
    assert "Fill 1" in text_of(response)
    # htmx asking the page itself (a filter typed) gets the same fragment.
    partial = signed_in(technician).get(
        reverse("fill_queue"), {"step": "data"}, HTTP_HX_REQUEST="true"
    )
    assert "<html" not in partial.content.decode() and order_in(partial) == [fill.pk]


def test_the_queue_reads_a_fixed_number_of_queries(technician):
    queued(technician)
    client = signed_in(technician)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("fill_queue_rows"), {"step": "data"})
    for _ in range(4):
        queued(technician)
    with CaptureQueriesContext(connection) as five:
        response = client.get(reverse("fill_queue_rows"), {"step": "data"})
    assert len(order_in(response)) == 5
    assert len(five) == len(one)


def test_the_return_to_stock_tab_lists_fills_left_in_will_call(technician, pharmacist):
    fill = ready(technician, pharmacist)
    assert order_in(signed_in(technician).get(reverse("fill_queue"), {"step": "return"})) == []
    with time_machine.travel(timezone.now() + dt.timedelta(days=11), tick=False):
        response = signed_in(technician).get(reverse("fill_queue"), {"step": "return"})
    assert order_in(response) == [fill.pk]
    assert "Return to stock 1" in text_of(response)
    assert reverse("fill_return", kwargs={"pk": fill.pk}) in response.content.decode()


@pytest.mark.parametrize("role", ["inventory", "auditor", "admin_user"])
def test_the_queue_is_for_the_pharmacy_team(request, role):
    user = request.getfixturevalue(role)
    assert signed_in(user).get(reverse("fill_queue")).status_code == 403
    assert signed_in(user).get(reverse("fill_queue_rows")).status_code == 403


# --- Data verification ---------------------------------------------------------------------------


def test_a_pharmacist_reads_the_original_beside_the_typed_record(technician, pharmacist):
    image = services.prescription_image_upload(actor=technician, content=PNG, filename="hc.png")
    fill = queued(technician, images=(image,), directions="1 CAP PO DAILY")
    AllergyFactory(patient=fill.prescription.patient, allergen="Penicillins")
    patient = fill.prescription.patient
    patient.allergy_status = "has"
    patient.save()
    response = signed_in(pharmacist).get(reverse("fill_data_verify", kwargs={"pk": fill.pk}))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("rx_image", kwargs={"pk": image.pk}) in html
    page = text_of(response)
    assert "Penicillins" in page
    assert "1 CAP PO DAILY" in page and "Take 1 capsule by mouth once daily." in page
    assert "Tome 1 cápsula por vía oral una vez al día." in page
    assert "Quantity 30 each" in page and "Days supply 30" in page and "DAW 0" in page
    assert "Prescriber Margaret Okafor, MD · NPI 1234567893" in page
    assert "Approve" in page and "Send back: why?" in page
    assert re.search(r'id="approve" autofocus', html)


def test_approving_sends_the_fill_to_be_filled_and_opens_the_next(technician, pharmacist):
    fill = queued(technician)
    following = queued(technician)
    client = signed_in(pharmacist)
    response = client.post(
        reverse("fill_data_verify", kwargs={"pk": fill.pk}), {"decision": "approve"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("fill_data_verify", kwargs={"pk": following.pk})
    fill.refresh_from_db()
    assert fill.status == FillStatus.TO_FILL and fill.data_verified_by == pharmacist
    # The last one: back to the (empty) queue.
    response = client.post(
        reverse("fill_data_verify", kwargs={"pk": following.pk}), {"decision": "approve"}
    )
    assert response["Location"] == reverse("fill_queue") + "?step=data"


def test_sending_back_needs_a_reason_beside_its_box(technician, pharmacist):
    fill = queued(technician)
    client = signed_in(pharmacist)
    before = rows()
    response = client.post(
        reverse("fill_data_verify", kwargs={"pk": fill.pk}), {"decision": "send_back"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert re.search(r'<p class="error" id="id_reason_error" role="alert">Say why.</p>', html)
    assert 'id="id_reason" name="reason"' in html and 'aria-invalid="true"' in html
    assert rows() == before
    response = client.post(
        reverse("fill_data_verify", kwargs={"pk": fill.pk}),
        {"decision": "send_back", "reason": "Quantity differs from the hard copy"},
    )
    assert response.status_code == 302
    event = FillEvent.objects.filter(fill=fill).latest("pk")
    assert (event.step, event.reason) == (FillStep.SENT_BACK, "Quantity differs from the hard copy")
    queue = signed_in(technician).get(reverse("fill_queue"), {"step": "data"})
    assert "sent back Quantity differs from the hard copy" in text_of(queue)


def test_a_post_without_a_decision_approves_nothing(technician, pharmacist):
    fill = queued(technician)
    before = rows()
    response = signed_in(pharmacist).post(reverse("fill_data_verify", kwargs={"pk": fill.pk}))
    assert response.status_code == 422
    assert "Approve the fill, or send it back with a reason." in text_of(response)
    assert rows() == before


@pytest.mark.parametrize("role", ["technician", "trainee"])
def test_a_technician_never_reaches_either_verification(request, role, technician, pharmacist):
    user = request.getfixturevalue(role)
    data = queued(technician)
    done = filled(technician, pharmacist)
    client = signed_in(user)
    before = rows()
    for name, fill in (("fill_data_verify", data), ("fill_final_verify", done)):
        url = reverse(name, kwargs={"pk": fill.pk})
        assert client.get(url).status_code == 403
        response = client.post(url, {"decision": "approve", "bin": "A"})
        assert response.status_code == 403
        assert "Not allowed" in text_of(response) or "not allowed" in text_of(response)
    assert rows() == before
    assert Fill.objects.get(pk=data.pk).status == FillStatus.QUEUED
    assert Fill.objects.get(pk=done.pk).status == FillStatus.FILLED


def test_another_pharmacys_fill_is_not_found(technician, outsider):
    fill = queued(technician)
    for name in ("fill_history", "fill_product"):
        assert signed_in(outsider).get(reverse(name, kwargs={"pk": fill.pk})).status_code == 404


# --- Filling -------------------------------------------------------------------------------------


def test_the_fill_screen_shows_the_drug_large_and_waits_for_a_scan(technician, pharmacist):
    fill = to_fill(technician, pharmacist)
    response = signed_in(technician).get(reverse("fill_product", kwargs={"pk": fill.pk}))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<p class="big-drug"><strong class="drug-name">Prozac</strong>', html)
    assert re.search(r'id="id_scanned_code" name="scanned_code"[^>]*autofocus', html)
    assert 'name="quantity" value="30"' in html
    assert "LOT-A" in text_of(response)
    # Only a pharmacist may accept a failed scan: the technician sees no override fields.
    assert "override_reason" not in html and 'name="package"' not in html
    rph = signed_in(pharmacist).get(reverse("fill_product", kwargs={"pk": fill.pk}))
    assert "override_reason" in rph.content.decode()
    assert fill.prescription.package.ndc10 in rph.content.decode()


def test_scanning_the_right_package_fills_it_and_says_what_was_taken(technician, pharmacist):
    fill = to_fill(technician, pharmacist)
    package = fill.prescription.package
    response = signed_in(technician).post(
        reverse("fill_product", kwargs={"pk": fill.pk}),
        {"scanned_code": package.ndc10, "quantity": "30"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("fill_queue") + "?step=fill"
    fill.refresh_from_db()
    assert fill.status == FillStatus.FILLED and fill.filled_by == technician
    assert fill.scanned_code == package.ndc10
    (message,) = flash(response)
    assert message.startswith(
        f"Rx {fill.prescription.number}-0 filled: 30 each of NDC {package.ndc10}"
    )
    assert "lot LOT-A (exp 12/31/2030) × 30" in message
    balance = StockBalance.objects.get(package=package)
    assert balance.on_hand == Decimal(70)


def test_the_wrong_product_is_refused_beside_the_scan_box(technician, pharmacist):
    fill = to_fill(technician, pharmacist)
    other = PackageFactory(
        product=ProductFactory(name="Zoloft", generic_name="Sertraline", strength="50 mg/1"),
        ndc10="0049-4900-30",
    )
    stock(fill.site, other, quantity=100)
    before = rows()
    response = signed_in(technician).post(
        reverse("fill_product", kwargs={"pk": fill.pk}),
        {"scanned_code": "0049-4900-30", "quantity": "30"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    error = re.search(r'<p class="error" id="id_scanned_code_error" role="alert">([^<]+)</p>', html)
    assert error is not None
    assert "Zoloft" in error.group(1) and "neither the prescribed" in error.group(1)
    assert re.search(r'id="id_scanned_code"[^>]*aria-invalid="true"', html)
    assert 'value="0049-4900-30"' in html  # kept (selected on focus: the next scan replaces it)
    assert rows() == before


def test_an_unknown_code_and_a_bad_count_are_named(technician, pharmacist):
    fill = to_fill(technician, pharmacist)
    before = rows()
    client = signed_in(technician)
    response = client.post(
        reverse("fill_product", kwargs={"pk": fill.pk}),
        {"scanned_code": "9999-9999-99", "quantity": "30"},
    )
    assert response.status_code == 422 and "id_scanned_code_error" in response.content.decode()
    response = client.post(
        reverse("fill_product", kwargs={"pk": fill.pk}),
        {"scanned_code": fill.prescription.package.ndc10, "quantity": "45"},
    )
    assert response.status_code == 422
    assert "Counted 45 but this fill is for 30." in text_of(response)
    assert rows() == before


def test_a_pharmacist_accepts_the_same_drug_from_another_labeler_with_a_reason(
    technician, pharmacist
):
    fill = to_fill(technician, pharmacist)
    generic = PackageFactory(
        product=ProductFactory(name="Fluoxetine", labeler="Generic Labs"), ndc10="1234-5678-90"
    )
    stock(fill.site, generic, quantity=100)
    url = reverse("fill_product", kwargs={"pk": fill.pk})
    # A technician's try is refused and says a pharmacist may accept it.
    response = signed_in(technician).post(url, {"scanned_code": "1234-5678-90"})
    assert response.status_code == 422
    assert "A pharmacist may accept it with a reason." in text_of(response)
    response = signed_in(pharmacist).post(
        url,
        {"scanned_code": "1234-5678-90", "override_reason": "Authorized generic, same NDC family"},
    )
    assert response.status_code == 302
    fill.refresh_from_db()
    assert fill.status == FillStatus.FILLED and fill.package == generic
    assert fill.scan_override_reason == "Authorized generic, same NDC family"


def test_a_trainee_fills_too_but_not_with_an_override(trainee, technician, pharmacist):
    fill = to_fill(technician, pharmacist)
    response = signed_in(trainee).post(
        reverse("fill_product", kwargs={"pk": fill.pk}),
        {"scanned_code": fill.prescription.package.ndc10},
    )
    assert response.status_code == 302
    assert Fill.objects.get(pk=fill.pk).filled_by == trainee


@pytest.mark.parametrize("role", ["inventory", "auditor", "admin_user"])
def test_the_fill_screen_is_refused_outside_the_pharmacy_team(
    request, role, technician, pharmacist
):
    fill = to_fill(technician, pharmacist)
    user = request.getfixturevalue(role)
    before = rows()
    url = reverse("fill_product", kwargs={"pk": fill.pk})
    assert signed_in(user).get(url).status_code == 403
    response = signed_in(user).post(url, {"scanned_code": fill.prescription.package.ndc10})
    assert response.status_code == 403
    assert rows() == before


# --- Final verification --------------------------------------------------------------------------


def test_final_verification_shows_the_product_lots_and_label_side_by_side(technician, pharmacist):
    fill = filled(technician, pharmacist)
    response = signed_in(pharmacist).get(reverse("fill_final_verify", kwargs={"pk": fill.pk}))
    assert response.status_code == 200
    page = text_of(response)
    package = fill.prescription.package
    assert package.ndc10 in page and package.description in page
    assert "LOT-A · expires 12/31/2030 · 30 taken" in page
    assert f"Scanned {package.ndc10}" in page
    html = response.content.decode()
    assert f'<iframe src="{reverse("fill_label", kwargs={"pk": fill.pk})}"' in html
    assert re.search(r'id="approve" autofocus', html) and 'id="id_bin"' in html
    assert "Print label" in page


def test_approving_puts_it_in_its_bin_and_opens_the_next(technician, pharmacist, pic):
    fill = filled(technician, pharmacist)
    following = filled(technician, pharmacist)
    response = signed_in(pic).post(
        reverse("fill_final_verify", kwargs={"pk": fill.pk}), {"decision": "approve", "bin": "z9"}
    )
    assert response["Location"] == reverse("fill_final_verify", kwargs={"pk": following.pk})
    fill.refresh_from_db()
    assert (fill.status, fill.bin, fill.verified_by) == (FillStatus.READY, "Z9", pic)


def test_sending_back_at_final_verification_puts_the_product_back(technician, pharmacist):
    fill = filled(technician, pharmacist)
    url = reverse("fill_final_verify", kwargs={"pk": fill.pk})
    client = signed_in(pharmacist)
    before = rows()
    assert client.post(url, {"decision": "send_back"}).status_code == 422
    assert rows() == before
    response = client.post(url, {"decision": "send_back", "reason": "Wrong count"})
    assert response.status_code == 302
    fill.refresh_from_db()
    assert fill.status == FillStatus.TO_FILL
    assert StockBalance.objects.get(package=fill.prescription.package).on_hand == 100


def test_the_label_preview_is_a_pdf_and_does_not_count_as_a_print(technician, pharmacist):
    pytest.importorskip("rxdesk.rx.labels")
    fill = filled(technician, pharmacist)
    before = rows()
    response = signed_in(pharmacist).get(reverse("fill_label", kwargs={"pk": fill.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response.content.startswith(b"%PDF")
    assert rows() == before
    assert Fill.objects.get(pk=fill.pk).labels_printed == 0


def test_printing_the_label_counts_it_and_a_reprint_needs_a_reason(technician, pharmacist):
    pytest.importorskip("rxdesk.rx.services.labels")
    fill = filled(technician, pharmacist)
    url = reverse("fill_label_print", kwargs={"pk": fill.pk})
    client = signed_in(pharmacist)
    response = client.post(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")
    assert Fill.objects.get(pk=fill.pk).labels_printed == 1
    verify = reverse("fill_final_verify", kwargs={"pk": fill.pk})
    response = client.post(url, {"next": verify})
    assert response.status_code == 302 and response["Location"] == verify
    assert Fill.objects.get(pk=fill.pk).labels_printed == 1
    response = client.post(url, {"reprint_reason": "Label smudged", "next": verify})
    assert response.status_code == 200
    assert Fill.objects.get(pk=fill.pk).labels_printed == 2


# --- Buttons -------------------------------------------------------------------------------------


def test_hold_and_release_bring_the_fill_back_where_it_was(technician, pharmacist):
    fill = to_fill(technician, pharmacist)
    client = signed_in(technician)
    response = client.post(
        reverse("fill_hold", kwargs={"pk": fill.pk}),
        {"reason": "out_of_stock", "note": "order due Tuesday", "next": "/rx/fills/?step=fill"},
    )
    assert response["Location"] == "/rx/fills/?step=fill"
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.ON_HOLD
    hold = client.get(reverse("fill_queue"), {"step": "hold"})
    assert order_in(hold) == [fill.pk] and "order due Tuesday" in text_of(hold)
    response = client.post(reverse("fill_release", kwargs={"pk": fill.pk}), follow=True)
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.TO_FILL
    assert "is off hold" in flash(response)[0]


def test_a_hold_without_a_reason_changes_nothing(technician):
    fill = queued(technician)
    before = rows()
    response = signed_in(technician).post(reverse("fill_hold", kwargs={"pk": fill.pk}), follow=True)
    assert "Say why the fill is on hold." in flash(response)[0]
    assert rows() == before


def test_an_offsite_next_is_ignored(technician):
    fill = queued(technician)
    response = signed_in(technician).post(
        reverse("fill_release", kwargs={"pk": fill.pk}), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("fill_history", kwargs={"pk": fill.pk})


def test_priority_is_set_with_the_promised_time_at_the_pharmacy(technician, site):
    fill = queued(technician)
    client = signed_in(technician)
    response = client.post(
        reverse("fill_priority", kwargs={"pk": fill.pk}),
        {"priority": "promised", "promised_at": "2030-05-01T17:30"},
        follow=True,
    )
    fill.refresh_from_db()
    assert fill.priority == Priority.PROMISED
    assert fill.promised_at == dt.datetime(2030, 5, 1, 17, 30, tzinfo=site.tz)
    assert "is now Promised time for 05/01/2030 17:30" in flash(response)[0]
    before = rows()
    response = client.post(
        reverse("fill_priority", kwargs={"pk": fill.pk}), {"priority": "promised"}, follow=True
    )
    assert "Give the time promised to the patient." in flash(response)[0]
    response = client.post(
        reverse("fill_priority", kwargs={"pk": fill.pk}), {"priority": "soon"}, follow=True
    )
    assert flash(response)[0].startswith("Priority not changed")
    assert rows() == before


def test_handing_out_and_returning_to_stock(technician, pharmacist):
    sold = ready(technician, pharmacist)
    client = signed_in(technician)
    response = client.post(reverse("fill_sell", kwargs={"pk": sold.pk}), follow=True)
    assert flash(response) == [f"Rx {sold.prescription.number}-0 handed out to the patient."]
    assert Fill.objects.get(pk=sold.pk).status == FillStatus.DISPENSED
    back = ready(technician, pharmacist)
    before = rows()
    response = client.post(reverse("fill_return", kwargs={"pk": back.pk}), follow=True)
    assert "Say why." in flash(response)[0] and rows() == before
    client.post(reverse("fill_return", kwargs={"pk": back.pk}), {"reason": "Not picked up"})
    back.refresh_from_db()
    assert back.status == FillStatus.RETURNED
    assert StockBalance.objects.get(package=back.prescription.package).on_hand == 100


@pytest.mark.parametrize("name", ["fill_hold", "fill_release", "fill_priority", "fill_sell"])
def test_the_buttons_are_refused_to_an_auditor(name, auditor, technician):
    fill = queued(technician)
    before = rows()
    response = signed_in(auditor).post(
        reverse(name, kwargs={"pk": fill.pk}), {"reason": "out_of_stock", "priority": "stat"}
    )
    assert response.status_code == 403
    assert rows() == before


# --- History -------------------------------------------------------------------------------------


def test_the_history_shows_every_step_who_and_the_stock_moves(technician, pharmacist):
    fill = filled(technician, pharmacist)
    workflow.fill_final_verify(actor=pharmacist, fill=fill, approve=False, reason="Wrong count")
    workflow.fill_product(actor=technician, fill=fill, scanned_code=fill.prescription.package.ndc10)
    workflow.fill_final_verify(actor=pharmacist, fill=fill, bin="B2")
    workflow.fill_sell(actor=technician, fill=fill)
    response = signed_in(technician).get(reverse("fill_history", kwargs={"pk": fill.pk}))
    assert response.status_code == 200
    html = response.content.decode()
    steps = re.findall(r'<tr class="step-(\w+)">', html)
    assert steps == [
        FillStep.ENTERED,
        FillStep.DATA_VERIFIED,
        FillStep.FILLED,
        FillStep.SENT_BACK,
        FillStep.FILLED,
        FillStep.FINAL_VERIFIED,
        FillStep.SOLD,
    ]
    page = text_of(response)
    assert "Wrong count" in page
    assert "Data verified: waiting to be filled → Filled: waiting for final verification" in page
    assert "lot: LOT-A" in page
    assert page.count("Dispensed") == 2 and "Returned to stock (not picked up)" in page
    assert pharmacist.get_full_name() in page
    # A finished fill offers no buttons.
    assert 'id="fill-actions"' not in html


def test_the_history_is_linked_from_the_prescriptions_page(technician):
    fill = queued(technician)
    response = signed_in(technician).get(reverse("rx_detail", kwargs={"pk": fill.prescription_id}))
    assert reverse("fill_history", kwargs={"pk": fill.pk}) in response.content.decode()


def test_the_history_offers_the_buttons_that_apply_now(technician):
    fill = queued(technician)
    response = signed_in(technician).get(reverse("fill_history", kwargs={"pk": fill.pk}))
    html = response.content.decode()
    assert reverse("fill_hold", kwargs={"pk": fill.pk}) in html
    assert reverse("fill_priority", kwargs={"pk": fill.pk}) in html
    assert reverse("fill_release", kwargs={"pk": fill.pk}) not in html
    assert Prescription.objects.count() == 1
