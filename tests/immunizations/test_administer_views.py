"""The workstation screens: give a vaccine from scan to confirmation, the findings partial,
the patient's record (entered in error struck through), the dose page (a PHI-access event),
historical and refusal forms, corrections."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations import screening_questions as sq
from rxdesk.immunizations import services_administer as services
from rxdesk.immunizations.models import Immunization
from rxdesk.inventory.models import StockBalance
from tests.immunizations.administer_setup import LOT, adult, given, pharmacist, ready
from tests.immunizations.factories import flu_vis, staff

GS1 = "0100349281421884" + "17301231" + "10" + LOT


def client_of(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_a_scan_fills_the_lot_and_shows_its_funding(site):
    ready(site)
    patient = adult(site)
    c = client_of(pharmacist(site))
    page = c.get(reverse("imm_give"), {"patient": patient.pk, "code": GS1})
    assert page.status_code == 200
    html = page.content.decode()
    assert "FLUZONE QUADRIVALENT" in html and "Private" in html
    assert f'value="{LOT}"' in html


def test_it_gives_a_dose_from_the_form(site):
    ready(site)
    vis = flu_vis()
    patient = adult(site)
    c = client_of(pharmacist(site))
    form = {
        "patient": patient.pk,
        "code": "49281-0421-88",
        "lot_number": LOT,
        "consent_by": "SEL",
        "eligibility": "V01",
        "vis_document": vis.pk,
        "vis_presented_on": site.today().strftime("%m/%d/%Y"),
        "dose_ml": "0.5",
        "route": "C28161",
        "body_site": "RD",
    } | {f"q_{c}": "no" for c in sq.CODES}
    response = c.post(reverse("imm_give"), form)
    imm = Immunization.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "imm_dose", args=[imm.pk]
    )
    assert StockBalance.objects.get(site=site, lot__number=LOT).on_hand == 9

    # a second, unanswered question: shown, nothing written
    form.pop("q_pregnant")
    response = c.post(reverse("imm_give"), form | {"patient": adult(site, first_name="B").pk})
    assert response.status_code == 422 and "pregnant" in response.content.decode()
    assert Immunization.objects.count() == 1


def test_the_findings_partial_shows_a_contraindication(site):
    ready(site)
    patient = adult(site)
    c = client_of(pharmacist(site))
    body = {"patient": patient.pk, "code": "49281-0421-88", "q_allergy_vaccine": "yes"}
    html = c.post(reverse("imm_give_findings"), body).content.decode()
    assert "Do not vaccinate" in html and "still to answer" in html


def test_the_record_strikes_entered_in_error_and_the_dose_page_is_audited(site):
    imm = given(site)
    rph = pharmacist(site)
    services.immunization_mark_entered_in_error(actor=rph, immunization=imm, reason="Wrong")
    c = client_of(rph)
    html = c.get(reverse("imm_patient_record", args=[imm.patient_id])).content.decode()
    assert "<s>" in html and "entered in error" in html and "DUE-LIST" not in html
    before = AuditEvent.objects.filter(action="immunizations.record.viewed").count()
    assert c.get(reverse("imm_dose", args=[imm.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="immunizations.record.viewed").count() == before + 1


def test_the_historical_and_refusal_forms_record(site):
    imm = given(site)
    tech = staff(site, Role.TECHNICIAN)
    c = client_of(tech)
    response = c.post(
        reverse("imm_historical_new", args=[imm.patient_id]),
        {
            "cvx": "150",
            "administered_on": "10/01/2022",
            "source": "02",
            "historical_source": "County clinic",
        },
    )
    assert response.status_code == 302
    response = c.post(
        reverse("imm_refusal_new", args=[imm.patient_id]), {"cvx": "150", "refusal_reason": "03"}
    )
    assert response.status_code == 302
    assert Immunization.objects.filter(patient_id=imm.patient_id).count() == 3


def test_a_correction_from_the_dose_page(site):
    imm = given(site)
    c = client_of(staff(site, Role.TECHNICIAN))
    response = c.post(reverse("imm_dose_correct", args=[imm.pk]), {"fix-body_site": "RD"})
    assert response.status_code == 302
    assert Immunization.objects.get(pk=imm.pk).body_site == "RD"
    response = c.post(reverse("imm_dose_correct", args=[imm.pk]), {"fix-body_site": "ZZ"})
    assert response.status_code == 422
