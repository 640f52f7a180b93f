"""The screening screens: the alerts on the data-verification page (interrupting first,
with a pharmacist's resolve form; the rest listed quietly), resolving one, and the rate
report. A technician sees the alerts but cannot resolve them (403, nothing written)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent, User
from rxdesk.rx.choices import FillStatus
from rxdesk.screening.models import FillAlert
from tests.factories import PatientFactory
from tests.screening.helpers import on_profile, package, prescribe, queued_fill

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def text_of(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def blocked(technician, site):
    patient = PatientFactory(site=site, date_of_birth="1940-03-03")
    on_profile(technician, patient, package("Nardil", "PHENELZINE SULFATE", "15"))
    # Amitriptyline: a TCA with an MAOI (ONC high-priority) and, at 78, on the Beers list.
    return queued_fill(
        prescribe(technician, patient, package("Elavil", "AMITRIPTYLINE HYDROCHLORIDE", "25"))
    )


def test_the_data_verification_page_shows_the_alerts_ranked(pharmacist, blocked):
    response = signed_in(pharmacist).get(reverse("fill_data_verify", kwargs={"pk": blocked.pk}))
    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(response)
    assert "Clinical screening" in text and "1 to resolve" in text
    dd = FillAlert.objects.get(fill=blocked, type="DD")
    resolve_url = reverse("screening_alert_resolve", kwargs={"pk": dd.pk})
    assert f'action="{resolve_url}"' in html
    assert f'name="a{dd.pk}-professional_service"' in html
    assert "M0 · Prescriber consulted" in html
    # Interrupting alerts come before the quiet list, and before the approve button.
    assert (
        html.index(f'id="alert-{dd.pk}"')
        < html.index("screening-listed")
        < html.index('id="approve"')
    )


def test_a_technician_sees_the_alerts_without_a_resolve_form(technician, blocked):
    # Data verification is a pharmacist's step: the technician gets no page at all.
    response = signed_in(technician).get(reverse("fill_data_verify", kwargs={"pk": blocked.pk}))
    assert response.status_code == 403


def test_resolving_from_the_page_returns_to_it_and_unblocks(pharmacist, blocked):
    client = signed_in(pharmacist)
    page = reverse("fill_data_verify", kwargs={"pk": blocked.pk})
    client.get(page)
    dd = FillAlert.objects.get(fill=blocked, type="DD")
    p = f"a{dd.pk}"
    response = client.post(
        reverse("screening_alert_resolve", kwargs={"pk": dd.pk}),
        {
            f"{p}-professional_service": "M0",
            f"{p}-result_of_service": "1G",
            f"{p}-note": "Prescriber aware; MAOI stopped 3 weeks ago",
            "next": page,
        },
    )
    assert response.status_code == 302 and response["Location"] == page
    dd.refresh_from_db()
    assert (dd.professional_service, dd.result_of_service) == ("M0", "1G")
    text = text_of(client.get(page))
    assert f"resolved M0/1G by {pharmacist.display_name}" in text and "to resolve" not in text

    approved = client.post(page, {"decision": "approve"})
    assert approved.status_code == 302
    blocked.refresh_from_db()
    assert blocked.status == FillStatus.TO_FILL


def test_approving_over_an_unresolved_alert_is_refused_beside_the_form(pharmacist, blocked):
    client = signed_in(pharmacist)
    page = reverse("fill_data_verify", kwargs={"pk": blocked.pk})
    response = client.post(page, {"decision": "approve"})
    assert response.status_code == 422
    assert "a pharmacist must resolve it" in text_of(response)
    # The alerts are kept even though the approval was rolled back, with a form to resolve.
    assert FillAlert.objects.filter(fill=blocked, type="DD", resolved_at__isnull=True).exists()
    blocked.refresh_from_db()
    assert blocked.status == FillStatus.QUEUED


def test_a_bad_resolution_shows_the_form_again(pharmacist, blocked):
    client = signed_in(pharmacist)
    client.get(reverse("fill_data_verify", kwargs={"pk": blocked.pk}))
    dd = FillAlert.objects.get(fill=blocked, type="DD")
    url = reverse("screening_alert_resolve", kwargs={"pk": dd.pk})
    events = AuditEvent.objects.count()
    response = client.post(
        url, {"professional_service": "M0", "result_of_service": "00", "note": "x"}
    )
    assert response.status_code == 422
    assert "00 is" in text_of(response)
    dd.refresh_from_db()
    assert dd.resolved_at is None and AuditEvent.objects.count() == events


def test_a_technician_cannot_resolve(technician, pharmacist, blocked):
    signed_in(pharmacist).get(reverse("fill_data_verify", kwargs={"pk": blocked.pk}))
    dd = FillAlert.objects.get(fill=blocked, type="DD")
    url = reverse("screening_alert_resolve", kwargs={"pk": dd.pk})
    client = signed_in(technician)
    assert client.get(url).status_code == 403
    events = AuditEvent.objects.count()
    response = client.post(
        url, {"professional_service": "M0", "result_of_service": "1G", "note": "x"}
    )
    assert response.status_code == 403
    dd.refresh_from_db()
    assert dd.resolved_at is None and AuditEvent.objects.count() == events


def test_the_resolve_page_explains_the_alert(pharmacist, blocked):
    client = signed_in(pharmacist)
    client.get(reverse("fill_data_verify", kwargs={"pk": blocked.pk}))
    dd = FillAlert.objects.get(fill=blocked, type="DD")
    text = text_of(client.get(reverse("screening_alert_resolve", kwargs={"pk": dd.pk})))
    assert dd.message[:40] in text and "ONC High-Priority" in text


def test_the_report_screen(pharmacist, technician, blocked):
    signed_in(pharmacist).get(reverse("fill_data_verify", kwargs={"pk": blocked.pk}))
    response = signed_in(pharmacist).get(reverse("screening_report"))
    assert response.status_code == 200
    text = text_of(response)
    dd = FillAlert.objects.get(fill=blocked, type="DD")
    assert dd.rule in text
    assert signed_in(technician).get(reverse("screening_report")).status_code == 403
    bad = signed_in(pharmacist).get(
        reverse("screening_report"), {"start": "06/02/2025", "end": "06/01/2025"}
    )
    assert bad.status_code == 422


def test_a_technician_sees_a_prescriptions_alerts_on_its_page(client, technician, site):
    from django.urls import reverse

    from tests.factories import PatientFactory
    from tests.screening.helpers import on_profile, package, prescribe

    patient = PatientFactory(site=site)
    on_profile(technician, patient, package("Coumadin", "WARFARIN SODIUM", "5"))
    rx = prescribe(technician, patient, package("Diflucan", "FLUCONAZOLE", "150"))
    client.force_login(technician)
    page = client.get(reverse("rx_detail", args=[rx.pk])).content.decode()
    assert "Clinical screening" in page
    assert "DD · major" in page and "INR" in page
    assert "rxdesk curated interactions (FDA labeling)" in page

    quiet = prescribe(technician, PatientFactory(site=site), package("Zocor", "SIMVASTATIN", "20"))
    page = client.get(reverse("rx_detail", args=[quiet.pk])).content.decode()
    assert "No alerts against the patient's active profile." in page
