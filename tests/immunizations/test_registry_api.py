"""The registry API and screens: the VXU contract (text/plain, CR-separated, valid per
hl7apy STRICT, a PHI-access event), the queue with errors in words, names hidden from the
auditor, another site's rows as 404, settings by field."""

from __future__ import annotations

import json

from django.db import transaction
from django.test import Client
from django.urls import reverse
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from rxdesk.api import api
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations import services_registry as services
from rxdesk.immunizations.choices import RegistryAction, RegistryStatus
from rxdesk.immunizations.models import RegistryMessage
from tests.immunizations.registry_setup import dose, queued

P = "/api/v1/immunizations"
WARNING_ERRORS = [
    {
        "severity": "W",
        "location": "RXR-2",
        "code": "103",
        "app_code": "5",
        "text": "Body site 'XX' not in table 0163; dose accepted without site",
    }
]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_vxu_contract_is_text_plain_with_cr_segments_and_valid(site, technician):
    imm = dose(site)
    response = _client(technician).get(f"{P}/{imm.pk}/vxu")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "\n" not in body and body.count("\r") >= 5
    parsed = parse_message(body, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert parsed.validate() is True
    assert body.split("\r")[0].split("|")[9] == f"PREVIEW-{site.pk}-{imm.pk}"
    assert RegistryMessage.objects.count() == 0  # built fresh, not stored
    event = AuditEvent.objects.get(action="immunizations.registry_vxu.opened")
    assert event.patient_id == imm.patient_id


def test_vxu_is_the_latest_message_as_sent(site, technician):
    message = queued(site)
    body = _client(technician).get(f"{P}/{message.immunization_id}/vxu").content.decode()
    assert body == message.message


def test_vxu_of_another_sites_dose_is_404(site, outsider):
    response = _client(outsider).get(f"{P}/{dose(site).pk}/vxu")
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="immunizations.registry_vxu.opened").exists()


def test_openapi_declares_the_text_plain_answer():
    op = api.get_openapi_schema()["paths"]["/api/v1/immunizations/{immunization_id}/vxu"]["get"]
    answer = json.loads(json.dumps(op["responses"]))["200"]  # as served (JSON keys)
    assert "text/plain" in answer["content"]


def test_the_auditor_sees_figures_without_names_or_texts(site, auditor):
    message = queued(site)
    RegistryMessage.objects.filter(pk=message.pk).update(
        status=RegistryStatus.WARNING, errors=WARNING_ERRORS
    )
    client = _client(auditor)
    rows = client.get(f"{P}/registry/messages?status=all").json()
    assert rows[0]["patient"] == "" and rows[0]["status"] == "warning"
    detail = client.get(f"{P}/registry/messages/{message.pk}").json()
    assert detail["message"] == detail["ack_text"] == ""
    assert detail["errors"][0]["text"] == ""
    assert detail["errors"][0]["words"] == "RXR-2 (warning): table value not found"
    page = client.get(reverse("imm_registry") + "?status=all").content.decode()
    assert "Testpatient" not in page
    assert not AuditEvent.objects.filter(action="immunizations.registry_vxu.opened").exists()


def test_a_technician_reads_the_errors_in_words_and_the_vxu(site, technician):
    message = queued(site)
    RegistryMessage.objects.filter(pk=message.pk).update(
        status=RegistryStatus.WARNING, errors=WARNING_ERRORS
    )
    client = _client(technician)
    detail = client.get(f"{P}/registry/messages/{message.pk}").json()
    assert detail["errors"][0]["words"] == (
        "RXR-2 (warning): table value not found — "
        "Body site 'XX' not in table 0163; dose accepted without site"
    )
    assert detail["message"] == message.message
    page = client.get(reverse("imm_registry_message", args=[message.pk])).content.decode()
    assert "Body site &#x27;XX&#x27; not in table 0163" in page
    assert message.control_id in page and "RXA|0|1|" in page
    queue = client.get(reverse("imm_registry") + "?status=all").content.decode()
    assert "Testpatient, Jane" in queue
    assert AuditEvent.objects.filter(action="immunizations.registry_vxu.opened").count() == 2


def test_another_sites_message_is_404(site, outsider):
    message = queued(site)
    assert _client(outsider).get(f"{P}/registry/messages/{message.pk}").status_code == 404
    response = _client(outsider).post(f"{P}/registry/messages/{message.pk}/retry")
    assert response.status_code == 404


def test_bad_status_filter_is_422(site, technician):
    response = _client(technician).get(f"{P}/registry/messages?status=lost")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "status"


def test_settings_put_refuses_a_host_without_port_by_name(site, pic):
    client = _client(pic)
    response = client.put(
        f"{P}/registry/settings",
        data=json.dumps({"iis_host": "iis.example.gov"}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "iis_port"
    unknown = client.put(
        f"{P}/registry/settings", data=json.dumps({"colour": 1}), content_type="application/json"
    )
    assert unknown.status_code == 422
    ok = client.put(
        f"{P}/registry/settings",
        data=json.dumps({"iis_host": "10.0.0.5", "iis_port": 5500, "processing_id": "T"}),
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["iis_port"] == 5500


def test_settings_screen_saves_and_shows_errors_by_field(site, pic):
    client = _client(pic)
    form = {
        "transport": "mllp",
        "iis_host": "",
        "iis_port": "",
        "timeout_seconds": "10",
        "sending_facility": "RX0001",
        "sending_application": "RXDESK",
        "receiving_application": "",
        "receiving_facility": "",
        "processing_id": "T",
        "reporting_deadline_hours": "72",
        "retry_minutes": "5",
        "retry_max_attempts": "8",
        "minimum_age_months": "36",
        "technician_minimum_age_months": "36",
    }
    bad = client.post(reverse("imm_registry_settings"), form)
    assert bad.status_code == 422
    assert "needs the registry" in bad.content.decode()
    good = client.post(
        reverse("imm_registry_settings"), {**form, "iis_host": "127.0.0.1", "iis_port": "5500"}
    )
    assert good.status_code == 302


def test_batch_download_is_the_file_and_a_phi_event(site, technician):
    queued(site)
    batch = services.registry_batch_export(actor=technician)
    response = _client(technician).get(f"{P}/registry/batches/{batch.pk}")
    assert response.status_code == 200
    assert response.content.decode() == batch.content
    assert AuditEvent.objects.filter(action="immunizations.registry_batch.downloaded").exists()
    screen = _client(technician).get(reverse("imm_registry_batch", args=[batch.pk]))
    assert screen["Content-Disposition"] == f'attachment; filename="{batch.file_name}"'


def test_retry_button_on_a_rejected_message_makes_a_new_one(site, technician):
    message = queued(site)
    RegistryMessage.objects.filter(pk=message.pk).update(status=RegistryStatus.REJECTED)
    response = _client(technician).post(reverse("imm_registry_retry", args=[message.pk]))
    new = RegistryMessage.objects.exclude(pk=message.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imm_registry_message", args=[new.pk])
    assert new.status == RegistryStatus.QUEUED  # no registry configured: it waits
    with transaction.atomic():
        assert services.registry_enqueue(
            immunization=new.immunization, action=RegistryAction.UPDATE, actor=technician
        )
