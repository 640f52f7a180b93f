"""Workstation screens of long-term care: facilities (set-up by the PIC), residents (admit,
census, order times) and the MAR (preview, PDF, CSV). Errors beside the field with the typed
values kept; the auditor sees facilities and counts, never a resident's name."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from rxdesk.core.models import AuditEvent
from rxdesk.institutional.models import CensusEvent, Facility, OrderSchedule, PassTime, Resident
from tests.institutional.factories import facility, unit
from tests.institutional.matrix_census import admitted, patient, rx_of

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_facility_list_counts_residents_in_few_queries(
    site, technician, django_assert_max_num_queries
):
    admitted(site)
    admitted(site, who=patient(site, "Ann", "Lee"), room="102")
    facility(site, code="ELM", name="Elm House")
    c = _client(technician)
    with django_assert_max_num_queries(12):
        page = c.get(reverse("ltc_facilities"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Oakwood Care Center" in html and "Elm House" in html
    assert "New facility" not in html  # the PIC's


def test_the_pic_adds_a_facility_and_errors_keep_what_was_typed(site, pic):
    c = _client(pic)
    url = reverse("ltc_facility_new")
    assert "autofocus" in c.get(url).content.decode()
    page = c.post(
        url,
        {
            "code": "OAK 1",
            "name": "Maple Grove",
            "kind": "alf",
            "phone": "",
            "address": "",
            "active": "on",
        },
    )
    assert page.status_code == 422
    html = page.content.decode()
    assert "Use letters, digits, - _ or . only." in html and 'value="Maple Grove"' in html
    page = c.post(url, {"code": "MAPLE", "name": "Maple Grove", "kind": "alf", "active": "on"})
    place = Facility.objects.get(code="MAPLE")
    assert page.status_code == 302 and page["Location"] == reverse(
        "ltc_facility", kwargs={"pk": place.pk}
    )


def test_the_pic_sets_pass_times_and_units_on_the_facility_page(site, pic):
    place = facility(site)
    c = _client(pic)
    page = c.get(reverse("ltc_facility", kwargs={"pk": place.pk}))
    html = page.content.decode()
    assert 'value="08:00"' in html and "Save the pass times" in html and "Add the unit" in html

    url = reverse("ltc_facility_pass_times", kwargs={"pk": place.pk})
    bad = {
        "pt-time_0": "08:00",
        "pt-slot_0": "morning",
        "pt-time_1": "",
        "pt-time_2": "08:00",
        "pt-slot_2": "noon",
    }
    page = c.post(url, bad)
    assert page.status_code == 422
    assert "08:00 is already pass time 1." in page.content.decode()
    assert PassTime.objects.filter(facility=place).count() == 4

    page = c.post(
        url,
        {
            "pt-time_0": "07:30",
            "pt-slot_0": "morning",
            "pt-time_1": "19:30",
            "pt-slot_1": "evening",
        },
    )
    assert page.status_code == 302
    assert [f"{p.time:%H:%M}" for p in place.pass_times.order_by("time")] == ["07:30", "19:30"]

    page = c.post(
        reverse("ltc_facility_unit", kwargs={"pk": place.pk}),
        {"unit-code": "1W", "unit-name": "dup"},
    )
    assert page.status_code == 409 and "already has a unit 1W" in page.content.decode()
    page = c.post(
        reverse("ltc_facility_unit", kwargs={"pk": place.pk}),
        {"unit-code": "2E", "unit-name": "2 East"},
    )
    assert page.status_code == 302 and place.units.filter(code="2E").exists()


def test_the_auditor_sees_counts_but_no_names(site, auditor):
    r = admitted(site)
    c = _client(auditor)
    html = c.get(reverse("ltc_facility", kwargs={"pk": r.facility_id})).content.decode()
    assert "1 in the facility" in " ".join(
        html.replace("<strong>", "").replace("</strong>", "").split()
    )
    assert "Diaz" not in html and "Lucia" not in html
    assert c.get(reverse("ltc_residents")).status_code == 403
    assert c.get(reverse("ltc_resident", kwargs={"pk": r.pk})).status_code == 403
    assert c.get(reverse("ltc_mar", kwargs={"pk": r.pk})).status_code == 403


def test_admit_by_finding_the_patient(site, technician):
    place = facility(site)
    who = patient(site, "Rosa", "Marquez")
    c = _client(technician)
    url = reverse("ltc_resident_admit")
    html = c.get(url, {"q": "marq"}).content.decode()
    assert "Marquez" in html and f"?patient={who.pk}" in html
    html = c.get(url, {"patient": who.pk}).content.decode()
    assert "Rosa Marquez" in html and "Admitted at" in html

    page = c.post(
        url,
        {"patient": who.pk, "facility": place.pk, "unit": unit(place).pk, "room": "", "bed": "A"},
    )
    assert page.status_code == 422 and "This field is required." in page.content.decode()
    assert not Resident.objects.exists()

    page = c.post(
        url,
        {
            "patient": who.pk,
            "facility": place.pk,
            "unit": unit(place).pk,
            "room": "110",
            "bed": "A",
        },
    )
    resident = Resident.objects.get(patient=who)
    assert page.status_code == 302 and page["Location"] == reverse(
        "ltc_resident", kwargs={"pk": resident.pk}
    )


def test_a_refused_admission_is_shown_beside_the_patient(site, technician):
    r = admitted(site)
    elm = facility(site, code="ELM", name="Elm House")
    page = _client(technician).post(
        reverse("ltc_resident_admit"), {"patient": r.patient_id, "facility": elm.pk, "room": "5"}
    )
    assert page.status_code == 409
    assert "Lucia Diaz is a resident of Oakwood Care Center (room 101)" in page.content.decode()


def test_the_resident_page_records_census_and_sets_times(
    site, technician, django_assert_max_num_queries
):
    r = admitted(site)
    rx = rx_of(r, directions="1 T PO QHS")
    c = _client(technician)
    url = reverse("ltc_resident", kwargs={"pk": r.pk})
    with django_assert_max_num_queries(30):
        html = c.get(url).content.decode()
    assert "Lucia Diaz" in html and "Admitted" in html
    assert "its directions suggest" in html and "21:00" in html
    assert reverse("ltc_mar", kwargs={"pk": r.pk}) in html

    census = reverse("ltc_resident_census", kwargs={"pk": r.pk})
    page = c.post(census, {"census-kind": "return", "census-note": "typed note"})
    assert page.status_code == 409
    html = page.content.decode()
    assert "is in the facility, not on leave" in html and 'value="typed note"' in html
    page = c.post(census, {"census-kind": "leave", "census-expected_return": ""})
    assert page.status_code == 302
    r.refresh_from_db()
    assert r.status == "leave"

    sched = reverse("ltc_resident_schedule", kwargs={"pk": r.pk})
    prefix = f"rx{rx.pk}"
    page = c.post(sched, {f"{prefix}-prescription": rx.pk, f"{prefix}-dose": "1"})
    assert page.status_code == 422
    assert "Choose at least one pass time" in page.content.decode()
    page = c.post(
        sched,
        {f"{prefix}-prescription": rx.pk, f"{prefix}-dose": "1", f"{prefix}-times": ["21:00"]},
    )
    assert page.status_code == 302
    assert OrderSchedule.objects.get(prescription=rx).times == ["21:00"]
    assert CensusEvent.objects.filter(resident=r).count() == 2


def test_the_mar_preview_pdf_and_csv(site, technician):
    r = admitted(site)
    rx = rx_of(r, drug_description="Lisinopril 10 mg tablet", directions="1 T PO DAILY")
    c = _client(technician)
    c.post(
        reverse("ltc_resident_schedule", kwargs={"pk": r.pk}),
        {f"rx{rx.pk}-prescription": rx.pk, f"rx{rx.pk}-dose": "1", f"rx{rx.pk}-times": ["08:00"]},
    )
    url = reverse("ltc_mar", kwargs={"pk": r.pk})
    html = c.get(url).content.decode()
    assert "Lisinopril 10 mg tablet" in html and "format=pdf" in html and "format=csv" in html
    pdf = c.get(url, {"format": "pdf"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Lucia Diaz" in text and "Lisinopril" in text
    csv_page = c.get(url, {"format": "csv"})
    assert csv_page.status_code == 200 and "Lisinopril 10 mg tablet" in csv_page.content.decode()
    assert (
        AuditEvent.objects.filter(
            action="institutional.mar.printed", patient_id=r.patient_id
        ).count()
        == 3
    )
    assert c.get(url, {"month": "2026-99"}).status_code == 422


def test_the_residents_list_searches_by_name(site, trainee, django_assert_max_num_queries):
    admitted(site)
    admitted(site, who=patient(site, "Ann", "Lee"), room="102")
    c = _client(trainee)
    with django_assert_max_num_queries(12):
        html = c.get(reverse("ltc_residents"), {"q": "lee"}).content.decode()
    assert "Lee" in html and "Diaz" not in html
    assert reverse("ltc_resident_admit") not in html  # a trainee records no census
