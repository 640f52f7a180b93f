"""The batch workflow of a cycle run (data verification, fill by scan, final
verification, close, cancel), its API, its screens and the ``rxdesk cycle-fills``
command."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.institutional import services_cycles as services
from rxdesk.institutional.choices import CycleLineStatus, CycleRunStatus
from rxdesk.institutional.models import CycleLine, CycleRun
from rxdesk.inventory.models import StockMove
from rxdesk.rx.choices import FillStatus
from tests.conftest import audit_count, last_event
from tests.institutional import factories as f
from tests.institutional import matrix_cycles as m

pytestmark = pytest.mark.django_db
API = "/api/v1/institutional"


def _two_residents(site) -> CycleRun:
    m.resident_with_order(site, room="102")
    m.resident_with_order(site, room="101")
    return services.cycle_generate(actor=m.tech_of(site), schedule=m.schedule_of(site))


def test_the_whole_batch_from_generation_to_close(site):
    run = _two_residents(site)
    rph, tech = m.rph_of(site), m.tech_of(site)

    verified_data = services.cycle_run_data_verify(actor=rph, run=run)
    assert len(verified_data.done) == 2 and verified_data.failed == {}
    assert last_event().action == "institutional.cycle.data_verified"

    lines = list(run.lines.order_by("resident__room"))
    first = services.cycle_run_scan(actor=tech, run=run, code=lines[0].prescription.package.ndc10)
    assert first.pk == lines[0].pk and first.fill.status == FillStatus.FILLED
    services.cycle_run_fill(
        actor=tech, run=run, line=lines[1], code=lines[1].prescription.package.ndc10
    )
    assert StockMove.objects.filter(reference_type="fill").count() == 2

    with pytest.raises(Conflict, match="2 line\\(s\\) are not finished"):
        services.cycle_run_close(actor=tech, run=run)

    result = services.cycle_run_verify(actor=rph, run=run, line_ids=[x.pk for x in lines])
    assert sorted(result.done) == sorted(x.pk for x in lines)
    closed = services.cycle_run_close(actor=tech, run=run)
    assert closed.status == CycleRunStatus.DONE and closed.closed_at is not None
    assert last_event().action == "institutional.cycle.closed"


def test_a_technician_cannot_data_verify_or_final_verify(site, technician):
    run = m.generated(site)
    before = audit_count()
    with pytest.raises(Forbidden):
        services.cycle_run_data_verify(actor=technician, run=run)
    assert run.lines.get().fill.status == FillStatus.QUEUED
    run, line = m.filled(site)
    with pytest.raises(Forbidden):
        services.cycle_run_verify(actor=technician, run=run, line_ids=[line.pk])
    assert m.line_fill(line).status == FillStatus.FILLED
    assert audit_count() > before  # only the set-up's own steps


def test_a_failed_line_is_reported_and_the_others_go_on(site):
    run = _two_residents(site)
    stuck = run.lines.order_by("pk").first()
    # The prescription of one line is put on hold after generation: data verification refuses it.
    type(stuck.prescription).objects.filter(pk=stuck.prescription_id).update(status="on_hold")

    result = services.cycle_run_data_verify(actor=m.rph_of(site), run=run)

    assert list(result.failed) == [stuck.pk] and "on hold" in result.failed[stuck.pk]
    assert len(result.done) == 1


def test_a_scan_of_another_product_fills_nothing(site):
    run = m.data_verified(site)
    other = m.stocked(m.order(m.tech_of(site), f.resident(site, room="300")))
    before = StockMove.objects.count()
    with pytest.raises(Invalid) as caught:
        services.cycle_run_scan(actor=m.tech_of(site), run=run, code=other.package.ndc10)
    assert caught.value.field == "code"
    assert StockMove.objects.count() == before


def test_verify_refuses_a_line_of_another_run_and_verifies_nothing(site):
    run, line = m.filled(site)
    with pytest.raises(Invalid) as caught:
        services.cycle_run_verify(actor=m.rph_of(site), run=run, line_ids=[line.pk, 999999])
    assert caught.value.field == "line_ids[1]"
    assert m.line_fill(line).status == FillStatus.FILLED


def test_cancel_cancels_pending_fills_and_the_cycle_can_be_generated_again(site):
    run = m.generated(site)
    cancelled = services.cycle_run_cancel(actor=m.tech_of(site), run=run, reason="wrong unit")
    line = run.lines.get()
    assert cancelled.status == CycleRunStatus.CANCELLED
    assert (line.status, line.fill.status) == (CycleLineStatus.STOPPED, FillStatus.CANCELLED)
    again = services.cycle_generate(
        actor=m.tech_of(site), schedule=m.schedule_of(site), period_start=run.period_start
    )
    assert again.pk != run.pk and again.lines.get().status == CycleLineStatus.QUEUED


def test_cancel_is_refused_while_a_fill_is_counted_out(site):
    run, _line = m.filled(site)
    with pytest.raises(Conflict, match="Counted out"):
        services.cycle_run_cancel(actor=m.tech_of(site), run=run)
    assert CycleRun.objects.get(pk=run.pk).status == CycleRunStatus.OPEN


def test_a_trainee_cannot_fill_a_line(site, trainee):
    run = m.data_verified(site)
    line = run.lines.get()
    with pytest.raises(Forbidden):
        services.cycle_run_fill(
            actor=trainee, run=run, line=line, code=line.prescription.package.ndc10
        )


def test_another_pharmacys_run_does_not_exist(site, outsider):
    run = m.generated(site)
    with pytest.raises(NotFound):
        services.cycle_run_close(actor=m.pic_of(outsider.site), run=run)


# --- API --------------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_api_generates_and_reads_a_run(site):
    m.resident_with_order(site)
    client = _client(m.tech_of(site))
    response = client.post(
        f"{API}/cycles/{m.schedule_of(site).pk}/generate", {}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open" and len(body["items"]) == 1
    assert body["items"][0]["quantity"] == "28.000" or body["items"][0]["quantity"] == "28"
    listed = client.get(f"{API}/cycle-runs").json()
    assert [r["id"] for r in listed] == [body["id"]]
    again = client.post(
        f"{API}/cycles/{m.schedule_of(site).pk}/generate",
        {"period_start": body["period_start"]},
        content_type="application/json",
    )
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"


def test_an_auditor_reads_rooms_not_names(site, auditor):
    run = m.generated(site)
    patient = run.lines.get().resident.patient
    body = _client(auditor).get(f"{API}/cycle-runs/{run.pk}").json()
    resident = body["items"][0]["resident"]
    assert patient.last_name not in json.dumps(body)
    assert resident.startswith("Resident ") and "room 101A" in resident


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("/cycles/{s}", "patch", {"days": 10}, "days"),
        ("/cycles/{s}", "patch", {"color": "red"}, None),
        ("/cycle-runs/{r}/verify", "post", {"line_ids": ["x"]}, None),
        ("/cycle-runs/{r}/verify", "post", {"line_ids": [2**70]}, None),
        ("/cycle-runs/{r}/lines/{l}/fill", "post", {"code": "\x00" * 300}, None),
        ("/cycle-runs/{r}/lines/{l}/fill", "post", {"code": "not-a-code"}, "code"),
        ("/cycles/{s}/generate", "post", {"period_start": "2026-02-30"}, None),
    ],
)
def test_hostile_input_is_a_422_and_changes_nothing(site, pic, path, method, body, field):
    run = m.data_verified(site)
    line = run.lines.get()
    url = API + path.format(s=m.schedule_of(site).pk, r=run.pk, l=line.pk)
    client = _client(pic)
    before = (audit_count(), StockMove.objects.count(), CycleLine.objects.count())
    response = getattr(client, method)(url, body, content_type="application/json")
    assert response.status_code == 422, response.content
    if field:
        assert field in response.content.decode()
    assert (audit_count(), StockMove.objects.count(), CycleLine.objects.count()) == before


# --- Screens ----------------------------------------------------------------------------------


def test_the_cycles_page_shows_the_schedule_and_its_generate_button(site, pic):
    m.schedule_of(site)
    page = _client(pic).get(reverse("ltc_cycles")).content.decode()
    assert "Oakwood Care Center — unit 1W" in page or "Oakwood Care Center — unit 1W" in page
    assert "every 14 days" in page and "<kbd>g</kbd> Generate" in page
    assert 'action="/institutional/cycles/schedule/"' in page


def test_the_pic_saves_a_schedule_on_the_page_and_errors_stay_beside_the_field(site, pic):
    place = f.facility(site)
    client = _client(pic)
    bad = client.post(
        reverse("ltc_cycle_schedule_save"),
        {"place": f"f{place.pk}", "days": "14", "mode": "period", "anchor": "13/45/2026"},
    )
    assert bad.status_code == 422
    assert "Enter the date as MM/DD/YYYY." in bad.content.decode()
    assert 'value="13/45/2026"' in bad.content.decode()
    good = client.post(
        reverse("ltc_cycle_schedule_save"),
        {
            "place": f"f{place.pk}",
            "days": "7",
            "mode": "period",
            "anchor": f"{site.today():%m/%d/%Y}",
            "lead_days": "2",
            "active": "on",
        },
    )
    assert good.status_code == 302
    assert place.cycles.get().days == 7


def test_a_technician_fills_a_run_by_scanning_on_its_page(site):
    run = m.data_verified(site)
    line = run.lines.get()
    client = _client(m.tech_of(site))
    page = client.get(reverse("ltc_cycle_run", kwargs={"pk": run.pk})).content.decode()
    assert "data-scan" in page and "autofocus" in page
    assert "Data-verify all" not in page  # a pharmacist's step

    wrong = client.post(reverse("ltc_cycle_run_scan", kwargs={"pk": run.pk}), {"code": "12"})
    assert wrong.status_code == 422 and 'value="12"' in wrong.content.decode()
    response = client.post(
        reverse("ltc_cycle_run_scan", kwargs={"pk": run.pk}),
        {"code": line.prescription.package.ndc10},
    )
    assert response.status_code == 302
    assert m.line_fill(line).status == FillStatus.FILLED


def test_the_pharmacist_verifies_the_checked_lines_on_the_page(site):
    run, line = m.filled(site)
    client = _client(m.rph_of(site))
    page = client.get(reverse("ltc_cycle_run", kwargs={"pk": run.pk})).content.decode()
    assert f'name="line" value="{line.pk}"' in page
    response = client.post(
        reverse("ltc_cycle_run_verify", kwargs={"pk": run.pk}), {"line": [str(line.pk)]}
    )
    assert response.status_code == 302
    assert m.line_fill(line).status == FillStatus.READY
    closed = client.post(reverse("ltc_cycle_run_close", kwargs={"pk": run.pk}))
    assert closed.status_code == 302
    assert CycleRun.objects.get(pk=run.pk).status == CycleRunStatus.DONE


# --- CLI --------------------------------------------------------------------------------------


def test_the_command_generates_every_cycle_due_and_says_so(site):
    m.resident_with_order(site)
    m.schedule_of(site)
    tech = m.tech_of(site)
    out = io.StringIO()

    call_command("cycle-fills", "--user", tech.username, "--dry-run", stdout=out)
    assert "is due (dry run: nothing generated)" in out.getvalue()
    assert not CycleRun.objects.exists()

    out = io.StringIO()
    call_command("cycle-fills", "--user", tech.username, stdout=out)
    start = site.today() + dt.timedelta(days=m.LEAD)
    end = start + dt.timedelta(days=13)
    assert out.getvalue().splitlines() == [
        f"Oakwood Care Center 1W: {start:%m/%d}–{end:%m/%d}, 1 fills queued, 0 prorated",
        "1 cycle(s) generated, 0 refused.",
    ]

    out = io.StringIO()
    call_command("cycle-fills", "--user", tech.username, stdout=out)
    assert out.getvalue().strip() == "No cycle is due."


def test_the_command_refuses_an_unknown_user(site):
    with pytest.raises(CommandError, match="No active user"):
        call_command("cycle-fills", "--user", "nobody-here")


def test_the_command_refuses_a_trainee(site, trainee):
    m.schedule_of(site)
    with pytest.raises(CommandError):
        call_command("cycle-fills", "--user", trainee.username, stdout=io.StringIO())
