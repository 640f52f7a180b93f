"""The compounding-record screens: the worklist with its counts, a new record (the scaled
amounts and lots shown before anything is taken, a scanned lot honoured, refusals beside the
form), one record with its measure, check, submit, verify and reject forms, the label."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rxdesk.compounding.models import CompoundingRecord, QualityCheck, RecordComponent
from rxdesk.core.models import AuditEvent, User
from rxdesk.inventory.models import StockBalance, StockMove
from tests.compounding.factories import competent, hc_25
from tests.compounding.matrix_records import (
    bench,
    checker_of,
    evaluator_of,
    maker_of,
    measured,
    staff,
    started,
    submitted,
    verified,
)
from tests.inventory.factories import stock

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _kept() -> tuple[int, int, int, int, int]:
    return (
        CompoundingRecord.objects.count(),
        RecordComponent.objects.count(),
        QualityCheck.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def test_the_worklist_counts_each_step_and_lists_the_records(site):
    first = started(site)
    waiting = submitted(site)
    client = signed_in(maker_of(site))

    html = client.get(reverse("compounding_records")).content.decode()

    assert "<strong>1</strong> being compounded" in html
    assert "<strong>1</strong> waiting for verification" in html
    assert "<strong>0</strong> verified today" in html
    assert first.lot_number in html and waiting.lot_number in html
    assert reverse("compounding_record_new") in html


def test_the_worklist_query_count_does_not_grow_with_the_records(site):
    started(site)
    client = signed_in(maker_of(site))
    client.get(reverse("compounding_records"))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("compounding_records"))
    started(site)
    submitted(site)
    with CaptureQueriesContext(connection) as three:
        client.get(reverse("compounding_records"))
    assert len(three) == len(one)


def test_the_worklist_searches_by_lot(site):
    first = started(site)
    other = started(site)
    html = (
        signed_in(maker_of(site))
        .get(reverse("compounding_records"), {"q": first.lot_number})
        .content.decode()
    )
    found = html.split('id="found-title"')[1].split("</section>")[0]
    assert first.lot_number in found and other.lot_number not in found


def test_a_new_record_shows_the_scaled_amounts_and_lots_before_anything_is_taken(site):
    the_bench = bench(site)
    before = _kept()
    client = signed_in(maker_of(site))

    response = client.get(reverse("compounding_record_new"), {"formula": the_bench["hc"].pk})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Scale factor" in html and "200 g ÷ 200 g" in html
    assert "HC25-A" in html and "50 g" in html and "150 g" in html
    assert "data-scan" in html
    assert _kept() == before


def test_a_scanned_lot_is_previewed_then_the_record_started(site):
    the_bench = bench(site)
    stock(site, hc_25(), "HC25-SOON", 100, site.today() + dt.timedelta(days=60))
    tech = maker_of(site)
    client = signed_in(tech)
    form = {
        "formula": the_bench["hc"].pk,
        "quantity": "100",
        "unit": "g",
        "compounded_by": tech.pk,
        "control": "",
        "lot_1": "HC25-A",
    }

    preview = client.post(reverse("compounding_record_new"), {**form, "action": "preview"})
    assert preview.status_code == 200
    assert "100 g ÷ 200 g" in preview.content.decode()
    assert CompoundingRecord.objects.count() == 0

    response = client.post(reverse("compounding_record_new"), {**form, "action": "start"})

    record = CompoundingRecord.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("compounding_record", kwargs={"pk": record.pk})
    assert record.components.get(position=1).lot_number == "HC25-A"
    assert StockBalance.objects.get(site=site, lot__number="HC25-SOON").on_hand == 100


def test_a_lapsed_person_is_refused_beside_the_field(site):
    the_bench = bench(site)
    tech = staff(site, "maria", first_name="Maria", last_name="Lopez")
    competent(tech, "nonsterile", evaluator=evaluator_of(site), on=dt.date(2020, 1, 1))
    before = _kept()

    response = signed_in(tech).post(
        reverse("compounding_record_new"),
        {
            "formula": the_bench["hc"].pk,
            "quantity": "100",
            "unit": "g",
            "compounded_by": tech.pk,
            "action": "start",
        },
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert "Maria Lopez cannot compound nonsterile preparations:" in html
    assert "lapsed on" in html
    assert _kept() == before


def test_the_record_page_shows_components_calculations_bud_and_forms(site):
    record = started(site)
    html = signed_in(maker_of(site)).get(reverse("compounding_record", args=[record.pk]))
    text = html.content.decode()
    assert html.status_code == 200
    assert "HC25-A" in text and "HC05-A" in text
    assert "100 g ÷ 200 g" in text and "50 g × 0.5" in text
    assert "USP &lt;795&gt; Table 4" in text
    assert reverse("compounding_record_measure", args=[record.pk]) in text
    assert reverse("compounding_record_submit", args=[record.pk]) in text
    assert "Appearance" in text  # the formula's planned checks
    assert reverse("compounding_record_verify", args=[record.pk]) not in text


def test_a_measurement_is_recorded_or_refused_with_its_reason(site):
    record = started(site)
    client = signed_in(maker_of(site))
    component = record.components.get(position=1)
    url = reverse("compounding_record_measure", args=[record.pk])

    off = client.post(
        url, {"component": component.pk, "measured_quantity": "30", "measured_unit": "g"}
    )
    assert off.status_code == 422
    assert "30 g is 20 % more than the 25 g required" in off.content.decode()

    ok = client.post(
        url, {"component": component.pk, "measured_quantity": "25.1", "measured_unit": "g"}
    )
    assert ok.status_code == 302
    component.refresh_from_db()
    assert f"{component.measured_quantity:f}" == "25.1000"


def test_check_submit_verify_and_label_on_the_screens(site):
    tech, rph = maker_of(site), checker_of(site)
    record = measured(started(site), tech)
    bench_client, pharmacist = signed_in(tech), signed_in(rph)

    empty = bench_client.post(reverse("compounding_record_submit", args=[record.pk]), {})
    assert empty.status_code == 422
    assert "Record at least one quality check" in empty.content.decode()

    checked = bench_client.post(
        reverse("compounding_record_check", args=[record.pk]),
        {"name": "Appearance", "expected": "smooth", "result": "smooth", "passed": "yes"},
    )
    assert checked.status_code == 302
    sent = bench_client.post(reverse("compounding_record_submit", args=[record.pk]), {})
    assert sent.status_code == 302
    page = pharmacist.get(reverse("compounding_record", args=[record.pk])).content.decode()
    assert reverse("compounding_record_verify", args=[record.pk]) in page

    denied = bench_client.post(reverse("compounding_record_verify", args=[record.pk]))
    assert denied.status_code == 403
    done = pharmacist.post(reverse("compounding_record_verify", args=[record.pk]))
    assert done.status_code == 302
    record.refresh_from_db()
    assert record.status == "verified" and record.verified_by == rph

    label = bench_client.get(reverse("compounding_record_label", args=[record.pk]))
    assert label.status_code == 200 and label["Content-Type"] == "application/pdf"


def test_the_label_of_an_unverified_record_is_refused(site):
    record = submitted(site)
    response = signed_in(maker_of(site)).get(reverse("compounding_record_label", args=[record.pk]))
    assert response.status_code == 422
    assert "Missing verification" in response.content.decode()


def test_a_rejection_needs_a_reason_and_says_the_stock_stays_used(site):
    record = started(site)
    client = signed_in(checker_of(site))
    url = reverse("compounding_record_reject", args=[record.pk])

    assert client.post(url, {}).status_code == 422
    response = client.post(url, {"reason": "Wrong base used"}, follow=True)

    html = response.content.decode()
    assert "Rejected:" in html and "Wrong base used" in html
    assert "stay used" in html


def test_self_verification_is_refused_on_the_page(site):
    verified_record = verified(site)  # the bench is set; now a pharmacist compounds one
    rph = checker_of(site)
    competent(rph, "nonsterile", evaluator=evaluator_of(site))
    record = measured(started(site, rph), rph)
    client = signed_in(rph)
    client.post(
        reverse("compounding_record_check", args=[record.pk]),
        {"name": "Appearance", "result": "ok", "passed": "yes"},
    )
    client.post(reverse("compounding_record_submit", args=[record.pk]), {})

    response = client.post(reverse("compounding_record_verify", args=[record.pk]))

    assert response.status_code == 409
    assert "A second person verifies" in response.content.decode()
    assert CompoundingRecord.objects.get(pk=record.pk).status == "awaiting_verification"
    assert verified_record.status == "verified"
