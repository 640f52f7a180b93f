"""The cabinet feeds pages: upload a transaction file (refused rows shown on the feed's
page), an administrations file, errors beside the file field with nothing written, the
list, and patient names hidden from roles that may not see them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from rxdesk.institutional.models import CabinetFeed
from tests.institutional.matrix_feeds import (
    MRN,
    NDC,
    csv_text,
    now_text,
    patient_of,
    received,
    removal,
    tech_of,
    ward,
)

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_technician_uploads_a_file_and_sees_what_it_did(site):
    ward(site, stocked=10)
    client = signed_in(tech_of(site))
    text = csv_text(
        removal(**{"Date Time": now_text(site)}),
        removal(**{"Date Time": now_text(site), "Station": "3W-9"}),
    )
    page = client.get(reverse("adc_feeds"))
    assert page.status_code == 200
    assert b'enctype="multipart/form-data"' in page.content

    sent = client.post(
        reverse("adc_feed_upload"),
        {"kind": "transactions", "file": SimpleUploadedFile("pyxis.csv", text.encode())},
        follow=True,
    )

    assert sent.status_code == 200
    html = sent.content.decode()
    assert "3W-1, 3W-9: 1 transaction applied, 1 refused" in html
    assert "station 3W-9 is not a cabinet here" in html
    assert "Rows refused (1)" in html
    assert f"MRN {MRN}" in html
    listed = client.get(reverse("adc_feeds")).content.decode()
    assert "pyxis.csv" in listed


def test_an_unreadable_file_is_shown_beside_the_field_and_nothing_written(site):
    ward(site)
    client = signed_in(tech_of(site))

    sent = client.post(
        reverse("adc_feed_upload"),
        {"kind": "transactions", "file": SimpleUploadedFile("x.csv", b"Station,Qty\n1,2\n")},
    )
    empty = client.post(reverse("adc_feed_upload"), {"kind": "transactions"})

    assert sent.status_code == 422
    assert "no Transaction ID" in sent.content.decode()
    assert empty.status_code == 422
    assert "Choose the file" in empty.content.decode()
    assert CabinetFeed.objects.count() == 0


def test_an_administrations_file_is_pasted(site):
    patient_of(site)
    ward(site)
    client = signed_in(tech_of(site))
    text = (
        "Administration ID,Given At,NDC,Quantity,Nurse ID,MRN\n"
        f"A-1,{now_text(site)},{NDC},1,NURSE1,{MRN}\n"
    )

    sent = client.post(
        reverse("adc_feed_upload"), {"kind": "administrations", "text": text}, follow=True
    )

    assert "pasted.csv: 1 administrations imported." in sent.content.decode()


def test_the_auditor_reads_the_feed_without_patient_names_and_cannot_upload(site, auditor):
    feed = received(site)
    patient = patient_of(site)
    client = signed_in(auditor)

    page = client.get(reverse("adc_feed", args=[feed.pk])).content.decode()
    listed = client.get(reverse("adc_feeds")).content.decode()

    assert patient.last_name not in page
    assert MRN not in page
    assert "a patient" in page
    assert "Upload a file" not in listed
    assert client.post(reverse("adc_feed_upload"), {"kind": "transactions"}).status_code == 403
