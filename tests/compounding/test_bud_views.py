"""The BUD calculator, the in-use calculator and the site's limits as workstation pages:
keyboard-first forms, the answer at the pharmacy's time, a broken rule beside its field,
limits changed by the pharmacist-in-charge only."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.compounding.models import CompoundingSettings
from rxdesk.core.models import AuditEvent

pytestmark = pytest.mark.django_db

STERILE_2 = {
    "type": "sterile",
    "category": "2",
    "prepared_on": "01/05/2026",
    "prepared_time": "09:00",
    "storage": "refrigerator",
    "method": "aseptic",
    "components": "sterile",
}


@pytest.fixture
def chicago(site):
    site.time_zone = "America/Chicago"
    site.save()
    return site


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _error_of(html: str, field: str) -> str:
    found = re.search(rf'id="id_{field}_error"[^>]*>([^<]*)<', html)
    assert found, f"no error beside {field}"
    return found.group(1)


def test_the_calculator_is_keyboard_first(chicago, technician):
    response = _client(technician).get(reverse("compounding_bud"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="type"' in html and "autofocus" in html.split('name="type"')[0][-200:] + html
    assert "<kbd>Enter</kbd> Work out the BUD" in html
    for name in (
        "category",
        "prepared_on",
        "prepared_time",
        "storage",
        "method",
        "components",
        "sterility_tested",
        "preparation",
        "preserved",
        "component_expirations",
        "stability_days",
    ):
        assert f'name="{name}"' in html
    assert reverse("compounding_in_use") in html and reverse("compounding_settings") in html


def test_a_category_2_bud_shows_the_date_the_rule_and_no_time(chicago, technician):
    response = _client(technician).post(reverse("compounding_bud"), STERILE_2)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<p class="big-drug" id="bud-result"><strong>01/15/2026</strong></p>' in html
    assert "Category 2 (Table 13)" in html and "10 days from compounding" in html
    assert "Table limit" in html


def test_a_category_1_bud_shows_the_time_at_the_pharmacy(chicago, technician):
    data = {**STERILE_2, "category": "1", "storage": "room", "prepared_time": "0930"}

    html = _client(technician).post(reverse("compounding_bud"), data).content.decode()

    assert "<strong>01/05/2026 21:30</strong>" in html
    assert "Print the time on the label" in html


def test_a_bud_across_the_fall_change_is_shown_in_the_pharmacys_new_offset(chicago, technician):
    data = {
        **STERILE_2,
        "category": "1",
        "storage": "room",
        "prepared_on": "11/01/2026",
        "prepared_time": "00:30",
    }

    html = _client(technician).post(reverse("compounding_bud"), data).content.decode()

    assert "<strong>11/01/2026 11:30</strong>" in html  # 12 elapsed hours, now CST


def test_component_expirations_one_per_line_limit_the_bud(chicago, technician):
    data = {**STERILE_2, "component_expirations": "03/01/2026\n\n01/10/2026\n2026-02-01\n"}

    html = _client(technician).post(reverse("compounding_bud"), data).content.decode()

    assert "<strong>01/10/2026</strong>" in html
    assert "Limited by a component" in html
    assert "limited by the earliest component expiry, 2026-01-10" in html


def test_a_nonsterile_preparation(chicago, technician):
    data = {
        "type": "nonsterile",
        "prepared_on": "01052026",
        "prepared_time": "0900",
        "storage": "room",
        "preparation": "other-nonaqueous",
        "stability_days": "30",
    }

    html = _client(technician).post(reverse("compounding_bud"), data).content.decode()

    assert "<strong>02/04/2026</strong>" in html
    assert "Limited by stability" in html


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            {"type": "nonsterile", "category": "", "preparation": "aqueous", "storage": "room"},
            "storage",
            "refrigerator",
        ),
        ({"category": "3"}, "sterility_tested", "sterility testing"),
        (
            {"category": "immediate-use", "components": "nonsterile"},
            "components",
            "sterile products",
        ),
        ({"component_expirations": "01/04/2026"}, "component_expirations", "expired"),
        ({"component_expirations": "01/04/2026\nsoon"}, "component_expirations", "Line 2"),
        ({"prepared_on": "01/05/1850"}, "prepared_on", "between"),
        ({"prepared_time": "25:00"}, "prepared_time", "HH:MM"),
        ({"stability_days": "0"}, "stability_days", ""),
        ({"category": ""}, "category", "category"),
    ],
)
def test_a_broken_rule_is_shown_beside_its_field(chicago, technician, data, field, words):
    response = _client(technician).post(reverse("compounding_bud"), {**STERILE_2, **data})

    assert response.status_code == 422
    assert words in _error_of(response.content.decode(), field)
    assert 'id="bud-result"' not in response.content.decode()


def test_an_empty_form_is_refused_and_writes_nothing(technician):
    client = _client(technician)
    before = AuditEvent.objects.count()

    response = client.post(reverse("compounding_bud"), {})

    assert response.status_code == 422
    assert AuditEvent.objects.count() == before


# --- In-use ----------------------------------------------------------------------------------

IN_USE = {
    "container": "single-dose",
    "opened_on": "01/05/2026",
    "opened_time": "09:00",
    "where": "iso5",
}


def test_in_use_by_usp_then_by_californias_limits(chicago, technician):
    client = _client(technician)

    usp = client.post(reverse("compounding_in_use"), IN_USE).content.decode()
    CompoundingSettings.objects.create(
        site=chicago, single_dose_iso5_hours=6, single_dose_outside_iso5_hours=1
    )
    state = client.post(reverse("compounding_in_use"), IN_USE).content.decode()
    outside = client.post(
        reverse("compounding_in_use"), {**IN_USE, "where": "outside"}
    ).content.decode()

    assert "<strong>01/05/2026 21:00</strong>" in usp and "(USP's)" in usp
    assert "<strong>01/05/2026 15:00</strong>" in state
    assert "<strong>01/05/2026 10:00</strong>" in outside
    assert "outside ISO 5 air: 1 hour after first puncture" in outside


def test_a_pharmacy_bulk_package_without_its_hours_is_refused_beside_the_field(chicago, technician):
    response = _client(technician).post(
        reverse("compounding_in_use"), {**IN_USE, "container": "pharmacy-bulk"}
    )

    assert response.status_code == 422
    assert "hours" in _error_of(response.content.decode(), "label_hours")


def test_an_expired_container_is_refused_beside_its_expiry(chicago, technician):
    response = _client(technician).post(
        reverse("compounding_in_use"), {**IN_USE, "expiry": "01/04/2026"}
    )

    assert response.status_code == 422
    assert "expired" in _error_of(response.content.decode(), "expiry")


# --- The site's limits -----------------------------------------------------------------------

LIMITS = {
    "single_dose_iso5_hours": "6",
    "single_dose_outside_iso5_hours": "1",
    "multiple_dose_days": "28",
    "retention_years": "5",
}


def test_the_pic_saves_the_limits(site, pic):
    client = _client(pic)

    form = client.get(reverse("compounding_settings")).content.decode()
    response = client.post(reverse("compounding_settings"), LIMITS)

    assert 'value="12"' in form and "No limits set: USP" in form
    assert response.status_code == 302 and response["Location"] == reverse("compounding_settings")
    row = CompoundingSettings.objects.get(site=site)
    assert (row.single_dose_iso5_hours, row.single_dose_outside_iso5_hours) == (6, 1)
    assert (row.retention_years, row.cap_at_source_in_use) == (5, False)
    assert AuditEvent.objects.filter(action="compounding.settings.updated").count() == 1


def test_limits_out_of_bounds_are_shown_beside_the_field(site, pic):
    response = _client(pic).post(
        reverse("compounding_settings"), {**LIMITS, "single_dose_outside_iso5_hours": "8"}
    )

    assert response.status_code == 422
    assert "6 hours" in _error_of(response.content.decode(), "single_dose_outside_iso5_hours")
    assert CompoundingSettings.objects.count() == 0


def test_a_technician_reads_the_limits_but_cannot_change_them(site, technician):
    CompoundingSettings.objects.create(site=site, multiple_dose_days=21)
    client = _client(technician)

    page = client.get(reverse("compounding_settings")).content.decode()
    refused = client.post(reverse("compounding_settings"), LIMITS)

    assert "<dd>21 days</dd>" in page and "<form" not in page.split("<main")[-1].split("Limits")[1]
    assert refused.status_code == 403
    assert CompoundingSettings.objects.get(site=site).multiple_dose_days == 21
    assert not AuditEvent.objects.filter(action="compounding.settings.updated").exists()
