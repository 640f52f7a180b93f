"""The cold-chain screens: the dashboard (open excursions in red at the top, checks due),
the reading form and its keyboard round, the logger upload, an excursion's record with the
response and decision forms, and the printable monthly log."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent
from rxdesk.inventory.choices import ExcursionStatus, LotStatus
from rxdesk.inventory.models import Excursion, StockBalance, TemperatureReading
from tests.inventory.factories import package, stock
from tests.inventory.matrix_coldchain import fridge, open_excursion

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)  # 10:00 in Chicago


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def writes() -> tuple[int, int, int]:
    return (
        TemperatureReading.objects.count(),
        Excursion.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def test_the_dashboard_shows_open_excursions_first_and_the_checks_due(
    site, technician, django_assert_max_num_queries
):
    for code in ("F-1", "F-2", "F-3"):
        fridge(site, code)
    excursion = open_excursion(site, code="F-2")
    client = client_for(technician)

    # Sign-in and session: 7; the units, their last readings, their excursions, the list.
    with django_assert_max_num_queries(11):
        response = client.get(reverse("inventory_coldchain"))

    assert response.status_code == 200
    html = response.content.decode()
    alert = html.index('<section class="alert danger"')
    assert alert < html.index("Checks due today, 06/10/2026")
    assert f'href="/inventory/cold-chain/excursions/{excursion.pk}/"' in html[alert:]
    assert "Open temperature excursions — stock quarantined, do not use" in html
    first_due = reverse("inventory_coldchain_reading", kwargs={"pk": fridge(site, "F-1").pk})
    assert f'href="{first_due}" data-key="r"' in html
    # The excursion's first reading (an hour ago) is shown in the pharmacy's time.
    assert "11.5" in html and "06/10/2026 09:00" in html


def test_an_auditor_sees_the_dashboard_without_record_buttons(site, auditor):
    fridge(site)
    html = client_for(auditor).get(reverse("inventory_coldchain")).content.decode()
    assert "Logger file" not in html
    assert 'data-key="r"' not in html


def test_saving_a_check_goes_on_to_the_next_unit_due(site, technician):
    first, second = fridge(site, "F-1"), fridge(site, "F-2")
    client = client_for(technician)

    response = client.post(
        reverse("inventory_coldchain_reading", kwargs={"pk": first.pk}),
        {"minimum_c": "3.1", "maximum_c": "6.2", "current_c": "4.0"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("inventory_coldchain_reading", kwargs={"pk": second.pk})
    reading = TemperatureReading.objects.get()
    assert (reading.location, reading.minimum_c, reading.maximum_c, reading.current_c) == (
        first,
        Decimal("3.1"),
        Decimal("6.2"),
        Decimal("4.0"),
    )
    last = client.post(
        reverse("inventory_coldchain_reading", kwargs={"pk": second.pk}),
        {"minimum_c": "3.1", "maximum_c": "6.2"},
    )
    assert last["Location"] == reverse("inventory_coldchain")


def test_a_check_entered_late_is_read_in_the_pharmacys_time(site, technician):
    unit = fridge(site)
    response = client_for(technician).post(
        reverse("inventory_coldchain_reading", kwargs={"pk": unit.pk}),
        {"minimum_c": "3.1", "maximum_c": "6.2", "recorded_at": "06/10/2026 08:15"},
    )
    assert response.status_code == 302
    assert TemperatureReading.objects.get().recorded_at == dt.datetime(
        2026, 6, 10, 13, 15, tzinfo=dt.UTC
    )


def test_an_out_of_range_check_opens_the_excursion_page_with_a_warning(site, technician):
    unit = fridge(site)
    stock(site, package("0006-4943-00"), "V1", 10, location=unit)
    client = client_for(technician)

    response = client.post(
        reverse("inventory_coldchain_reading", kwargs={"pk": unit.pk}),
        {"minimum_c": "3.0", "maximum_c": "10.4"},
        follow=True,
    )

    excursion = Excursion.objects.get()
    assert response.redirect_chain == [
        (reverse("inventory_coldchain_excursion", kwargs={"pk": excursion.pk}), 302)
    ]
    html = response.content.decode()
    assert '<li class="msg-success">FRIDGE-1: 3.0 to 10.4 °C recorded.</li>' in html
    assert (
        f'<li class="msg-error">OUT OF RANGE: excursion #{excursion.pk} opened; '
        "1 lot(s) quarantined." in html
    )
    assert "V1" in html and "quarantined" in html


def test_a_bad_check_is_shown_beside_its_field_and_nothing_is_written(site, technician):
    unit = fridge(site)
    client = client_for(technician)
    before = writes()

    response = client.post(
        reverse("inventory_coldchain_reading", kwargs={"pk": unit.pk}),
        {"minimum_c": "3.0", "maximum_c": "95"},
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_maximum_c_error"' in html
    assert "95 °C is not a plausible reading" in html
    assert writes() == before


def test_a_logger_file_is_uploaded_even_in_windows_encoding(site, technician):
    unit = fridge(site)
    text = "Date/Time,Temperature (°F)\r\n06/09/2026 08:00,40.0\r\n06/09/2026 08:30,41.0\r\n"
    upload = SimpleUploadedFile("log.csv", text.encode("cp1252"), content_type="text/csv")

    response = client_for(technician).post(
        reverse("inventory_coldchain_import", kwargs={"pk": unit.pk}),
        {"csv_file": upload, "unit": ""},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("inventory_coldchain"), 302)]
    assert "2 rows read: 2 imported, 0 already on file." in response.content.decode()
    assert list(
        TemperatureReading.objects.order_by("recorded_at").values_list("current_c", flat=True)
    ) == [
        Decimal("4.4"),
        Decimal("5.0"),
    ]


def test_a_bad_logger_file_names_the_row_beside_the_file_box(site, technician):
    unit = fridge(site)
    upload = SimpleUploadedFile("log.csv", b"Timestamp,Temp (C)\n2026-06-09T08:00,x\n")
    client = client_for(technician)
    before = writes()

    response = client.post(
        reverse("inventory_coldchain_import", kwargs={"pk": unit.pk}), {"csv_file": upload}
    )

    assert response.status_code == 422
    assert 'id="id_csv_file_error"' in response.content.decode()
    assert "Row 2, column &#x27;Temp (C)&#x27;: &#x27;x&#x27; is not a temperature." in (
        response.content.decode()
    )
    assert writes() == before


def test_respond_and_resolve_through_the_forms(site, technician, pharmacist):
    unit = fridge(site)
    balance = stock(site, package("0006-4943-00"), "V1", 10, location=unit)
    tech = client_for(technician)
    tech.post(
        reverse("inventory_coldchain_reading", kwargs={"pk": unit.pk}),
        {"minimum_c": "3.0", "maximum_c": "10.4"},
    )
    excursion = Excursion.objects.get()
    detail = reverse("inventory_coldchain_excursion", kwargs={"pk": excursion.pk})

    responded = tech.post(
        reverse("inventory_coldchain_excursion_respond", kwargs={"pk": excursion.pk}),
        {"response": "Door found ajar; closed it."},
    )
    assert responded["Location"] == detail

    rph = client_for(pharmacist)
    page = rph.get(detail).content.decode()
    assert "Door found ajar; closed it." in page
    assert 'data-key="p"' in page
    resolved = rph.post(
        reverse("inventory_coldchain_excursion_resolve", kwargs={"pk": excursion.pk}),
        {"disposition": "discard", "note": "Maker: do not use."},
    )
    assert resolved["Location"] == detail
    excursion.refresh_from_db()
    assert excursion.status == ExcursionStatus.DISCARDED
    balance = StockBalance.objects.get(pk=balance.pk)
    assert (balance.on_hand, balance.status) == (Decimal("0.000"), LotStatus.DAMAGED)


def test_a_decision_before_any_response_is_refused_on_the_form(site, pharmacist):
    excursion = open_excursion(site)
    client = client_for(pharmacist)
    before = writes()
    response = client.post(
        reverse("inventory_coldchain_excursion_resolve", kwargs={"pk": excursion.pk}),
        {"disposition": "release", "note": "ok"},
    )
    assert response.status_code == 409
    assert "Document the response first" in response.content.decode()
    assert writes() == before


def test_the_monthly_log_prints_each_day_and_flags_excursions(
    site, technician, django_assert_max_num_queries
):
    unit = fridge(site)
    excursion = open_excursion(site)  # one reading at 09:00 today, 11.5 °C
    TemperatureReading.objects.create(
        location=unit,
        recorded_at=dt.datetime(2026, 6, 1, 13, 0, tzinfo=dt.UTC),
        minimum_c=Decimal("3.0"),
        maximum_c=Decimal("5.0"),
        recorded_by=technician,
    )
    client = client_for(technician)
    url = reverse("inventory_coldchain_log", kwargs={"pk": unit.pk})

    with django_assert_max_num_queries(10):
        response = client.get(url, {"month": "2026-06"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "temperature log, June 2026" in html
    assert "Mon 06/01" in html and "Tue 06/30" in html
    assert f"excursion #{excursion.pk}</a>" in html
    assert "OUT OF RANGE" in html
    assert "fewer than two checks on 9 days" in html
    assert client.get(url, {"month": "2026-13"}).status_code == 422
