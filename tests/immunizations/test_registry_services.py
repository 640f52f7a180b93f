"""Registry services against a real test registry over MLLP on a free local port: AA,
AE with a warning, AR, garbage and silence (failed, retried with backoff, given up),
manual retry, batch files parsed back, settings, deadlines, forbidden roles."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest
from django.db import transaction
from django.utils import timezone
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations import queries_registry as queries
from rxdesk.immunizations import services_registry as services
from rxdesk.immunizations.choices import (
    InformationSource,
    RegistryAction,
    RegistryStatus,
    Transport,
)
from rxdesk.immunizations.common import settings_of
from rxdesk.immunizations.models import RegistryBatch, RegistryMessage
from tests.immunizations.factories import imm_settings, staff
from tests.immunizations.registry_setup import dose, iis_running, pointed, queued


def _events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def _enqueue(imm, action=RegistryAction.ADD):
    with transaction.atomic():
        return services.registry_enqueue(immunization=imm, action=action, actor=imm.recorded_by)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- enqueue ----------------------------------------------------------------------------------


def test_enqueue_builds_the_vxu_now_with_a_unique_control_id_and_the_deadline(site):
    imm_settings(site, reporting_deadline_hours=24)
    imm = dose(site)
    message = _enqueue(imm)
    assert message.status == RegistryStatus.QUEUED
    assert message.action == RegistryAction.ADD
    assert f"|{message.control_id}|" in message.message.split("\r")[0]
    assert message.due_at == imm.administered_at + dt.timedelta(hours=24)
    assert message.next_attempt_at is not None
    parse_message(message.message, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    other = _enqueue(dose(site))
    assert other.control_id != message.control_id
    assert _events("immunizations.registry_message.queued") == 2


def test_enqueue_takes_the_doses_own_deadline_when_recorded(site):
    due = timezone.now() + dt.timedelta(hours=5)
    assert _enqueue(dose(site, reporting_due_at=due)).due_at == due


def test_a_historical_dose_is_not_reported(site):
    imm = dose(site, information_source=InformationSource.SCHOOL)
    assert _enqueue(imm) is None
    assert RegistryMessage.objects.count() == 0


def test_an_update_of_a_dose_never_sent_replaces_the_waiting_add(site):
    imm = dose(site)
    first = _enqueue(imm)
    second = _enqueue(imm, RegistryAction.UPDATE)
    first.refresh_from_db()
    assert first.status == RegistryStatus.CANCELLED
    assert second.action == RegistryAction.ADD  # the registry never heard of the dose


def test_a_delete_of_a_dose_never_sent_sends_nothing(site):
    imm = dose(site)
    first = _enqueue(imm)
    assert _enqueue(imm, RegistryAction.DELETE) is None
    first.refresh_from_db()
    assert first.status == RegistryStatus.CANCELLED


def test_a_delete_after_the_add_was_accepted_is_queued_as_d(site):
    imm = dose(site)
    add = _enqueue(imm)
    RegistryMessage.objects.filter(pk=add.pk).update(status=RegistryStatus.ACCEPTED)
    delete = _enqueue(imm, RegistryAction.DELETE)
    assert delete.action == RegistryAction.DELETE
    assert delete.message.split("\r")[4].split("|")[21] == "D"


# --- sending over MLLP ------------------------------------------------------------------------


def test_aa_is_accepted_and_the_ack_is_kept(site, pharmacist):
    message = queued(site)
    with iis_running() as (server, brain):
        pointed(site, server.port)
        summary = services.registry_send_due(actor=pharmacist, site=site)
    message.refresh_from_db()
    assert (summary.sent, summary.accepted) == (1, 1)
    assert message.status == RegistryStatus.ACCEPTED
    assert message.ack_code == "AA"
    assert f"MSA|AA|{message.control_id}" in message.ack_text
    assert message.attempts == 1
    assert message.acked_at is not None
    assert brain.seen[0].code == "AA"  # hl7apy STRICT accepted it at the registry
    assert _events("immunizations.registry_message.sent") == 1
    assert summary.in_words() == "1 sent, 1 accepted."


def test_ae_with_a_warning_is_accepted_with_warnings_and_said_in_words(site, pharmacist):
    message = queued(site, body_site="")
    with iis_running() as (server, _):
        pointed(site, server.port)
        services.registry_send_due(actor=pharmacist, site=site)
    message.refresh_from_db()
    assert message.status == RegistryStatus.WARNING
    assert message.ack_code == "AE"
    assert queries.errors_in_words(message) == [
        "RXR-2 (warning): required data missing — "
        "No administration site; dose accepted without site"
    ]


def test_ar_is_rejected_and_not_retried_automatically(site, pharmacist):
    message = queued(site)
    with iis_running(reject="all") as (server, _):
        pointed(site, server.port)
        services.registry_send_due(actor=pharmacist, site=site)
        message.refresh_from_db()
        assert message.status == RegistryStatus.REJECTED
        assert message.next_attempt_at is None
        later = timezone.now() + dt.timedelta(days=1)
        assert services.registry_send_due(actor=pharmacist, site=site, now=later).sent == 0


def test_garbage_fails_and_is_retried_with_backoff_then_given_up(site, pharmacist):
    message = queued(site)
    t0 = timezone.now()
    with iis_running(answer="garbage") as (server, _):
        pointed(site, server.port, retry_minutes=5, retry_max_attempts=3)
        services.registry_send_due(actor=pharmacist, site=site, now=t0)
        message.refresh_from_db()
        assert message.status == RegistryStatus.FAILED
        assert message.next_attempt_at == t0 + dt.timedelta(minutes=5)
        assert "cannot be read" in message.last_error
        # not due yet: nothing sent
        early = t0 + dt.timedelta(minutes=4)
        assert services.registry_send_due(actor=pharmacist, site=site, now=early).sent == 0
        t1 = t0 + dt.timedelta(minutes=5)
        services.registry_send_due(actor=pharmacist, site=site, now=t1)
        message.refresh_from_db()
        assert (message.status, message.attempts) == (RegistryStatus.FAILED, 2)
        assert message.next_attempt_at == t1 + dt.timedelta(minutes=10)
        t2 = t1 + dt.timedelta(minutes=10)
        summary = services.registry_send_due(actor=pharmacist, site=site, now=t2)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (RegistryStatus.GAVE_UP, 3)
    assert message.next_attempt_at is None
    assert summary.gave_up == 1


@pytest.mark.slow
def test_silence_times_out_and_fails(site, pharmacist):
    message = queued(site)
    with iis_running(answer="silent") as (server, _):
        pointed(site, server.port, timeout_seconds=1)
        services.registry_send_due(actor=pharmacist, site=site)
    message.refresh_from_db()
    assert message.status == RegistryStatus.FAILED
    assert "no reply within 1 s" in message.last_error


def test_a_registry_that_is_down_is_a_failure_not_an_error(site, pharmacist):
    message = queued(site)
    pointed(site, _free_port())
    summary = services.registry_send_due(actor=pharmacist, site=site)
    message.refresh_from_db()
    assert message.status == RegistryStatus.FAILED
    assert "refused the connection" in message.last_error
    assert summary.problems == [f"{message.control_id}: {message.last_error}"]


def test_a_later_message_of_a_dose_waits_for_the_earlier_one(site, pharmacist):
    add = queued(site)
    RegistryMessage.objects.filter(pk=add.pk).update(
        status=RegistryStatus.FAILED,
        attempts=1,
        next_attempt_at=timezone.now() + dt.timedelta(hours=1),
    )
    update = _enqueue(add.immunization, RegistryAction.UPDATE)
    with iis_running() as (server, _):
        pointed(site, server.port)
        summary = services.registry_send_due(actor=pharmacist, site=site)
    update.refresh_from_db()
    assert update.status == RegistryStatus.QUEUED
    assert summary.skipped == 1


def test_batch_or_unconfigured_transport_sends_nothing(site, pharmacist):
    queued(site)
    imm_settings(site, transport=Transport.BATCH)
    summary = services.registry_send_due(actor=pharmacist, site=site)
    assert (summary.sent, summary.waiting) == (0, 1)
    assert "next batch file" in summary.in_words()
    imm_settings(site, transport=Transport.NONE)
    assert "not configured" in services.registry_send_due(actor=pharmacist, site=site).in_words()


def test_sending_is_forbidden_to_a_trainee_and_nothing_changes(site, trainee):
    message = queued(site)
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        services.registry_send_due(actor=trainee, site=site)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (RegistryStatus.QUEUED, 0)
    assert AuditEvent.objects.count() == before


def test_the_system_may_send_only_from_the_cli(site, cli_context):
    queued(site)
    assert services.registry_send_due(actor=None, site=site).transport == Transport.NONE


def test_the_system_may_not_send_from_the_web(site):
    with pytest.raises(Forbidden):
        services.registry_send_due(actor=None, site=site)


def test_another_sites_actor_cannot_send_for_this_site(site, outsider):
    with pytest.raises(NotFound):
        services.registry_send_due(actor=outsider, site=site)


def test_a_limit_out_of_range_is_refused(site, pharmacist):
    with pytest.raises(Invalid) as caught:
        services.registry_send_due(actor=pharmacist, site=site, limit=0)
    assert caught.value.field == "limit"


# --- retry ------------------------------------------------------------------------------------


def test_retry_of_a_rejected_message_rebuilds_it_and_cancels_the_old(site, technician):
    message = queued(site)
    with iis_running(reject="odd") as (server, _):
        pointed(site, server.port)
        services.registry_send_due(actor=technician, site=site)
        message.refresh_from_db()
        assert message.status == RegistryStatus.REJECTED
        new = services.registry_retry(actor=technician, message=message)
    message.refresh_from_db()
    assert message.status == RegistryStatus.CANCELLED
    assert new.pk != message.pk
    assert new.control_id != message.control_id
    assert new.status == RegistryStatus.ACCEPTED  # the 2nd message: not rejected
    assert new.due_at == message.due_at
    assert _events("immunizations.registry_message.retried") == 1


def test_retry_of_a_given_up_message_sends_it_again_with_fresh_retries(site, pharmacist):
    message = queued(site)
    RegistryMessage.objects.filter(pk=message.pk).update(status=RegistryStatus.GAVE_UP, attempts=8)
    with iis_running() as (server, _):
        pointed(site, server.port)
        sent = services.registry_retry(actor=pharmacist, message=message)
    assert (sent.pk, sent.status, sent.attempts) == (message.pk, RegistryStatus.ACCEPTED, 1)


def test_retry_of_an_accepted_message_is_refused_and_changes_nothing(site, pharmacist):
    message = queued(site)
    RegistryMessage.objects.filter(pk=message.pk).update(status=RegistryStatus.ACCEPTED)
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        services.registry_retry(actor=pharmacist, message=message)
    assert RegistryMessage.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_retry_is_forbidden_to_the_auditor(site, auditor):
    message = queued(site)
    RegistryMessage.objects.filter(pk=message.pk).update(status=RegistryStatus.FAILED)
    with pytest.raises(Forbidden):
        services.registry_retry(actor=auditor, message=message)
    message.refresh_from_db()
    assert message.status == RegistryStatus.FAILED


def test_retry_of_another_sites_message_is_not_found(site, outsider):
    message = queued(site)
    RegistryMessage.objects.filter(pk=message.pk).update(status=RegistryStatus.FAILED)
    with pytest.raises(NotFound):
        services.registry_retry(actor=outsider, message=message)


# --- batch files ------------------------------------------------------------------------------


def test_batch_export_puts_every_undelivered_message_in_one_file(site, technician):
    imm_settings(site, transport=Transport.BATCH, sending_facility="RX0001")
    a, b, c = queued(site), queued(site, "115"), queued(site, "208")
    RegistryMessage.objects.filter(pk=b.pk).update(status=RegistryStatus.GAVE_UP)
    RegistryMessage.objects.filter(pk=c.pk).update(status=RegistryStatus.ACCEPTED)
    batch = services.registry_batch_export(actor=technician)
    lines = batch.content.rstrip("\r").split("\r")
    assert lines[0].startswith("FHS|^~\\&|RXDESK|RX0001")
    assert lines[1].startswith("BHS|^~\\&|")
    assert lines[-2:] == ["BTS|2", "FTS|1"]
    assert sum(1 for line in lines if line.startswith("MSH|")) == 2 == batch.message_count
    assert batch.control_id in lines[0] and batch.control_id in lines[1]
    assert batch.file_name.endswith(".hl7")
    # each message inside parses back as a VXU
    chunks = batch.content.split("\rMSH|")[1:]
    for chunk in chunks:
        body = "MSH|" + chunk.split("\rBTS|")[0]
        parse_message(body, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()
    for m in (a, b):
        m.refresh_from_db()
        assert (m.status, m.batch_id) == (RegistryStatus.EXPORTED, batch.pk)
    c.refresh_from_db()
    assert c.batch_id is None
    assert _events("immunizations.registry_batch.exported") == 1


def test_batch_export_with_nothing_waiting_is_refused(site, technician):
    with pytest.raises(Conflict):
        services.registry_batch_export(actor=technician)
    assert RegistryBatch.objects.count() == 0


def test_batch_export_is_forbidden_to_a_trainee(site, trainee):
    queued(site)
    with pytest.raises(Forbidden):
        services.registry_batch_export(actor=trainee)
    assert RegistryBatch.objects.count() == 0
    assert RegistryMessage.objects.get().status == RegistryStatus.QUEUED


# --- settings ---------------------------------------------------------------------------------


def test_the_pic_sets_the_states_rules_on_who_vaccinates(site, pic):
    row = services.registry_settings_set(
        actor=pic,
        technicians_administer=True,
        minimum_age_months=36,
        technician_minimum_age_months=84,
    )
    assert (row.technicians_administer, row.technician_minimum_age_months) == (True, 84)
    event = AuditEvent.objects.get(action="immunizations.registry_settings.changed")
    assert json.loads(event.data)["changed"]["technicians_administer"] == [False, True]


def test_the_pic_sets_the_registry_connection(site, pic):
    row = services.registry_settings_set(
        actor=pic,
        transport="mllp",
        iis_host="iis.example.gov",
        iis_port="5500",
        sending_facility="RX0001",
        reporting_deadline_hours=24,
        retry_minutes=10,
        retry_max_attempts=5,
        processing_id="T",
    )
    assert (row.iis_host, row.iis_port, row.processing_id) == ("iis.example.gov", 5500, "T")
    event = AuditEvent.objects.get(action="immunizations.registry_settings.changed")
    assert json.loads(event.data)["changed"]["iis_port"] == [None, 5500]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"iis_host": "iis.example.gov"}, "iis_port"),
        ({"iis_port": 5500}, "iis_host"),
        ({"iis_host": "iis.example.gov", "iis_port": 70000}, "iis_port"),
        ({"iis_host": "iis.example.gov", "iis_port": 0}, "iis_port"),
        ({"iis_host": "http://iis.example.gov", "iis_port": 5500}, "iis_host"),
        ({"iis_host": "iis example", "iis_port": 5500}, "iis_host"),
        ({"transport": "mllp", "sending_facility": "RX1"}, "iis_host"),
        ({"transport": "batch"}, "sending_facility"),
        ({"sending_facility": "RX|01"}, "sending_facility"),
        ({"receiving_application": "IIS^X"}, "receiving_application"),
        ({"transport": "fax"}, "transport"),
        ({"processing_id": "X"}, "processing_id"),
        ({"reporting_deadline_hours": 0}, "reporting_deadline_hours"),
        ({"retry_max_attempts": 99}, "retry_max_attempts"),
        ({"timeout_seconds": "soon"}, "timeout_seconds"),
        ({"colour": "red"}, "colour"),
        ({"technicians_administer": "maybe"}, "technicians_administer"),
        ({"minimum_age_months": "three"}, "minimum_age_months"),
        (
            {"minimum_age_months": 60, "technician_minimum_age_months": 36},
            "technician_minimum_age_months",
        ),
    ],
)
def test_bad_settings_are_refused_by_field_and_nothing_changes(site, pic, fields, field):
    before = AuditEvent.objects.count()
    with pytest.raises(Invalid) as caught:
        services.registry_settings_set(actor=pic, **fields)
    assert field in {e["field"] for e in caught.value.errors}
    row = settings_of(site)
    assert (row.transport, row.iis_host, row.iis_port) == (Transport.NONE, "", None)
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.PHARMACIST, Role.AUDITOR])
def test_settings_are_the_pics_alone(site, role):
    with pytest.raises(Forbidden):
        services.registry_settings_set(actor=staff(site, role), iis_host="x", iis_port=1)


# --- deadlines --------------------------------------------------------------------------------


def test_overdue_and_due_soon_and_counts(site):
    now = timezone.now()
    late = queued(site, reporting_due_at=now - dt.timedelta(hours=1))
    soon = queued(site, reporting_due_at=now + dt.timedelta(hours=3))
    done = queued(site, reporting_due_at=now - dt.timedelta(hours=2))
    RegistryMessage.objects.filter(pk=done.pk).update(status=RegistryStatus.ACCEPTED)
    rejected = queued(site, reporting_due_at=now + dt.timedelta(days=3))
    RegistryMessage.objects.filter(pk=rejected.pk).update(status=RegistryStatus.REJECTED)
    assert list(queries.overdue(site, now)) == [late]
    assert list(queries.due_soon(site, now)) == [soon]
    counts = queries.counts(site, now)
    assert (counts.rejected, counts.failed, counts.overdue, counts.waiting, counts.due_soon) == (
        1,
        0,
        1,
        2,
        1,
    )
    assert counts.headline() == "1 rejected, 1 overdue, 2 waiting"


def test_the_queue_lists_overdue_first(site, technician):
    now = timezone.now()
    fresh = queued(site, reporting_due_at=now + dt.timedelta(hours=30))
    late = queued(site, reporting_due_at=now - dt.timedelta(hours=1))
    rows = queries.messages_list(actor=technician, status="open", now=now)
    assert rows == [late, fresh]
    assert queries.messages_list(actor=technician, only_overdue=True, now=now) == [late]
    with pytest.raises(Invalid):
        queries.messages_list(actor=technician, status="bogus")
