"""The audit, investigation and theft/loss screens: the count page is blind, a result shows
after the count; an investigation is worked (note, file, outcome with the witness) and a
Form 106 record opened, notified and submitted from the keyboard. Broken rules show beside
their field and write nothing."""

from __future__ import annotations

import re
from decimal import Decimal

from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rxdesk.controlled.models import CsAudit, Investigation, TheftLoss, TheftLossLine
from rxdesk.controlled.services_audits import cs_audit_record
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.models import StockBalance, StockMove
from tests.controlled.factories import codeine_syrup, cs_stock, oxycodone, witness
from tests.controlled.matrix_audits import loss as open_loss
from tests.factories import PASSWORD
from tests.inventory.factories import package

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def written() -> tuple[int, ...]:
    return (
        CsAudit.objects.count(),
        Investigation.objects.count(),
        TheftLoss.objects.count(),
        TheftLossLine.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def visible(html: bytes) -> str:
    """The page without its CSRF tokens (random text that could hold any digits)."""
    text = html.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", text)
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", text)


# --- Blind counting ----------------------------------------------------------------------------


def test_the_count_page_never_shows_the_balance_before_the_count(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    client = client_for(technician)
    url = reverse("cs_audit_count")

    blank = client.get(url)
    scanned = client.get(url, {"ndc": "0406-0552-01"})

    assert blank.status_code == 200 and scanned.status_code == 200
    page = visible(scanned.content)
    assert "Oxycodone" in page and "OX1" in page  # the drug and its lot are named…
    assert "137" not in page  # …the quantity on file is not
    assert "137" not in visible(blank.content)


def test_a_count_shows_its_result_once_it_is_in(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    client = client_for(technician)

    response = client.post(
        reverse("cs_audit_count"),
        {"ndc": "0406-0552-01", "lot_number": "OX1", "counted": "130"},
    )

    assert response.status_code == 302 and response["Location"] == reverse("cs_audit_count")
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        "NDC 0406-0552-01 lot OX1: 130 EA counted, 137 on record (-7). An investigation is opened."
    )
    listing = client.get(reverse("cs_audits")).content.decode()
    assert "Investigation" in listing and "137" in listing


def test_a_bad_count_is_shown_beside_its_field(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    client = client_for(technician)
    before = written()

    response = client.post(
        reverse("cs_audit_count"), {"ndc": "0406-0552-01", "lot_number": "ZZ", "counted": "-1"}
    )

    assert response.status_code == 422
    page = visible(response.content)
    assert 'id="id_lot_number_error"' in page and 'id="id_counted_error"' in page
    assert "137" not in page
    assert written() == before


def test_a_scan_and_enter_asks_for_the_count_without_showing_the_balance(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    before = written()

    response = client_for(technician).post(reverse("cs_audit_count"), {"ndc": "0406-0552-01"})

    assert response.status_code == 422
    page = visible(response.content)
    assert 'id="id_counted_error"' in page and 'id="cs-lots"' in page and "OX1" in page
    assert re.search(r'name="counted"[^>]*autofocus', page)
    assert "137" not in page
    assert written() == before


def test_a_scan_of_a_plain_drug_says_so(site, technician):
    package()
    response = client_for(technician).get(reverse("cs_audit_count"), {"ndc": "0002-3227-30"})
    assert response.status_code == 422
    assert "is not a controlled substance" in response.content.decode()


# --- Investigation -----------------------------------------------------------------------------


def discrepancy(site, technician) -> Investigation:
    cs_stock(site, oxycodone(), 137, lot="OX1")
    audit = cs_audit_record(actor=technician, ndc="0406-0552-01", lot_number="OX1", counted=130)
    return Investigation.objects.get(audit=audit)


def test_an_investigation_is_worked_from_its_page(site, technician, pharmacist):
    inv = discrepancy(site, technician)
    client = client_for(pharmacist)
    url = reverse("cs_investigation_detail", kwargs={"pk": inv.pk})

    page = client.get(url).content.decode()
    assert 'name="res-witness.username"' in page and 'name="res-loss.loss_type"' in page
    noted = client.post(url, {"action": "note", "note-text": "Vault log read"})
    assert noted.status_code == 302
    uploaded = client.post(
        url,
        {
            "action": "evidence",
            "ev-file": SimpleUploadedFile("cam.pdf", PDF, content_type="application/pdf"),
            "ev-description": "Camera still",
        },
    )
    assert uploaded.status_code == 302
    item = inv.evidence.get()
    download = client.get(
        reverse("cs_evidence_download", kwargs={"pk": inv.pk, "evidence_pk": item.pk})
    )
    assert download.content == PDF

    before = written()
    refused = client.post(
        url, {"action": "resolve", "res-outcome": "record_error", "res-conclusion": "Scan missed"}
    )
    assert refused.status_code == 422
    assert 'id="id_res-witness.username_error"' in refused.content.decode()
    assert written() == before

    second = witness(site, Role.TECHNICIAN, "second")
    done = client.post(
        url,
        {
            "action": "resolve",
            "res-outcome": "record_error",
            "res-conclusion": "Scan missed",
            "res-witness.username": "second",
            "res-witness.password": PASSWORD,
        },
    )

    assert done.status_code == 302
    inv.refresh_from_db()
    assert (inv.status, inv.witness, inv.correction.witness) == ("resolved", second, second)
    assert StockBalance.objects.get(lot__number="OX1").on_hand == Decimal(130)
    page = client.get(url).content.decode()
    assert "witnessed by" in page and "res-outcome" not in page


def test_an_investigation_page_without_an_action_is_a_422(site, technician, pharmacist):
    inv = discrepancy(site, technician)
    before = written()
    response = client_for(pharmacist).post(
        reverse("cs_investigation_detail", kwargs={"pk": inv.pk}), {}
    )
    assert response.status_code == 422
    assert "Choose what to do" in response.content.decode()
    assert written() == before


def test_a_theft_from_the_page_opens_form_106(site, technician, pharmacist):
    inv = discrepancy(site, technician)
    witness(site, Role.PHARMACIST, "second")
    url = reverse("cs_investigation_detail", kwargs={"pk": inv.pk})
    client = client_for(pharmacist)

    missing = client.post(
        url,
        {
            "action": "resolve",
            "res-outcome": "theft",
            "res-conclusion": "Taken",
            "res-witness.username": "second",
            "res-witness.password": PASSWORD,
        },
    )
    assert missing.status_code == 422
    assert 'id="id_res-loss.loss_type_error"' in missing.content.decode()

    done = client.post(
        url,
        {
            "action": "resolve",
            "res-outcome": "theft",
            "res-conclusion": "Taken",
            "res-witness.username": "second",
            "res-witness.password": PASSWORD,
            "res-loss.loss_type": "employee_pilferage",
            "res-loss.police_notified": "no",
        },
    )
    assert done.status_code == 302
    loss = TheftLoss.objects.get()
    assert (loss.investigation_id, loss.lines.get().quantity) == (inv.pk, Decimal(7))


# --- Theft and loss ---------------------------------------------------------------------------


def test_a_loss_is_recorded_notified_and_submitted_from_the_screens(site, pharmacist):
    oxycodone()
    codeine_syrup()
    client = client_for(pharmacist)
    now = timezone.now().astimezone(site.tz)

    bad = client.post(
        reverse("cs_loss_create"),
        {
            "discovered_at": now.strftime("%m/%d/%Y %H:%M"),
            "loss_type": "night_break_in",
            "lines.0.ndc": "0406-0552-01",
            "lines.0.quantity": "40",
            "lines.2.ndc": "0603-1585-58",
            "lines.2.quantity": "0",
        },
    )
    assert bad.status_code == 422
    assert 'id="id_lines.2.quantity_error"' in bad.content.decode()
    assert TheftLoss.objects.count() == 0

    created = client.post(
        reverse("cs_loss_create"),
        {
            "discovered_at": now.strftime("%m/%d/%Y %H:%M"),
            "loss_type": "night_break_in",
            "police_notified": "yes",
            "police_department": "Springfield PD",
            "lines.0.ndc": "0406-0552-01",
            "lines.0.quantity": "40",
            "lines.2.ndc": "0603-1585-58",
            "lines.2.quantity": "120",
        },
    )
    assert created.status_code == 302
    loss = TheftLoss.objects.get()
    assert [line.quantity for line in loss.lines.order_by("id")] == [Decimal(40), Decimal(120)]
    url = reverse("cs_loss_detail", kwargs={"pk": loss.pk})
    assert "notify DEA by" in client.get(url).content.decode()

    early = client.post(url, {"action": "submitted", "sub-dea_reference": "TLR-1"})
    assert early.status_code == 422
    assert "Record the written notice to the DEA field office first." in early.content.decode()
    notified = client.post(
        url,
        {
            "action": "notified",
            "dea-when": now.strftime("%m/%d/%Y %H:%M"),
            "dea-how": "Email to the field division",
        },
    )
    assert notified.status_code == 302
    submitted = client.post(url, {"action": "submitted", "sub-dea_reference": "TLR-1"})
    assert submitted.status_code == 302
    loss.refresh_from_db()
    assert (loss.status, loss.dea_reference) == ("submitted", "TLR-1")
    pdf = client.get(reverse("cs_loss_pdf", kwargs={"pk": loss.pk}))
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF-")


def test_the_loss_list_reads_in_a_fixed_number_of_queries(
    site, pharmacist, django_assert_max_num_queries
):
    for _ in range(3):
        open_loss(site)
    client = client_for(pharmacist)
    client.get(reverse("cs_losses"))  # warm the session and the site
    with django_assert_max_num_queries(12):
        response = client.get(reverse("cs_losses"))
    assert response.status_code == 200
    assert response.content.decode().count("data-queue-open") == 3
