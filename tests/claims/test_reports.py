"""Claims reports: by status, plan and day; paid vs expected; outstanding rejects and PAs;
reversals and the outbox; fills past their plan's return-to-stock window — as queries, CSV,
through /api/v1/claims/reports/… and on /claims/reports/. Claim rows are made directly
(tests.claims.test_plans.make_claim) on real fills."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rxdesk.claims import queries_reports as reports
from rxdesk.claims import rejects
from rxdesk.claims.choices import ClaimStatus, PriorAuthStatus
from rxdesk.claims.models import Claim, Plan, PriorAuth
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import User
from rxdesk.rx.models import Fill
from tests.claims.test_plans import make_claim, make_plan
from tests.factories import PatientFactory
from tests.pos.factories import ready_fill
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def commercial() -> Plan:
    return make_plan()


@pytest.fixture
def part_d(commercial) -> Plan:
    return make_plan(commercial.payer, name="Test Part D", bin="004336", pcn="MEDDPCN")


def fill_of(actor: User, last_name: str = "Doe", **over: Any) -> Fill:
    patient = PatientFactory(site=actor.site, last_name=last_name, first_name="Ana")
    return first_fill(make_rx(actor, patient=patient, **over))


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- Claims by status, plan and day ----------------------------------------------------------


def test_claims_are_counted_by_day_plan_and_status_with_the_money(
    technician, pharmacist, commercial, part_d, outsider
):
    today = technician.site.today()
    yesterday = today - dt.timedelta(days=1)
    paid = {"status": ClaimStatus.PAID}
    make_claim(fill_of(technician), commercial, **paid, plan_paid=D("10.50"), patient_pay=D("5"))
    make_claim(fill_of(technician), commercial, **paid, plan_paid=D("2.25"), patient_pay=D("1"))
    make_claim(fill_of(technician), commercial, status=ClaimStatus.REJECTED, reject_codes=["75"])
    make_claim(fill_of(technician), part_d, **paid, plan_paid=D("40.00"), patient_pay=D("4.10"))
    make_claim(fill_of(technician), part_d, **paid, plan_paid=D("9"), date_of_service=yesterday)
    make_claim(fill_of(technician), part_d, status=ClaimStatus.QUEUED, date_of_service=yesterday)
    make_claim(fill_of(outsider), commercial, **paid, plan_paid=D("99"))  # another pharmacy

    summary = reports.claims_summary(actor=pharmacist)

    assert (summary.start, summary.end) == (today, today)
    assert [
        (x.day, x.plan, x.status, x.claims, x.plan_paid, x.patient_pay) for x in summary.lines
    ] == [
        (today, "Test Commercial", "paid", 2, D("12.75"), D("6.00")),
        (today, "Test Commercial", "rejected", 1, D("0.00"), D("0.00")),
        (today, "Test Part D", "paid", 1, D("40.00"), D("4.10")),
    ]
    assert summary.count(ClaimStatus.PAID) == 3
    assert (summary.paid.plan_paid, summary.paid.patient_pay) == (D("52.75"), D("10.10"))
    assert summary.outbox == 1  # waiting now, whatever its day

    two_days = reports.claims_summary(actor=pharmacist, start=yesterday, end=today)
    assert [(x.day, x.status, x.claims) for x in two_days.lines][:2] == [
        (yesterday, "paid", 1),
        (yesterday, "queued", 1),
    ]
    assert two_days.claims == 6


def test_the_summary_in_words(technician, pharmacist, commercial):
    today = technician.site.today()
    for plan_paid, patient_pay in (("500.00", "100.00"), ("12.10", "30.00")):
        make_claim(
            fill_of(technician), commercial, plan_paid=D(plan_paid), patient_pay=D(patient_pay)
        )
    make_claim(fill_of(technician), commercial, status=ClaimStatus.REJECTED)
    make_claim(fill_of(technician), commercial, status=ClaimStatus.ATTENTION)
    make_claim(fill_of(technician), commercial, status=ClaimStatus.QUEUED)

    text = reports.summary_text(reports.claims_summary(actor=pharmacist))

    assert text.splitlines() == [
        f"Claims {today.isoformat()}: 2 paid ($512.10 plan, $130.00 patients), 1 rejected, "
        "1 needs attention, 1 in the outbox",
        "  Test Commercial (BIN 610014): 2 paid, 1 rejected, 1 needing attention, 1 in the outbox",
    ]


def test_the_summary_csv_has_no_patient_names(technician, pharmacist, commercial):
    make_claim(fill_of(technician, last_name="Zebulon"), commercial, plan_paid=D("3.00"))
    text = reports.summary_csv(reports.claims_summary(actor=pharmacist))
    today = technician.site.today().isoformat()
    assert rows_of(text) == [
        ["date_of_service", "plan", "bin", "status", "claims", "patient_pay", "plan_paid"],
        [today, "Test Commercial", "610014", "paid", "1", "0.00", "3.00"],
    ]
    assert "Zebulon" not in text


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (dt.date(2026, 3, 2), dt.date(2026, 3, 1), "end", "The end date is before the start date."),
        (dt.date(2025, 1, 1), dt.date(2026, 1, 2), "start", "Ask for 366 days at most"),
    ],
)
def test_a_bad_range_is_refused_naming_the_field(pharmacist, start, end, field, message):
    with pytest.raises(Invalid) as caught:
        reports.claims_summary(actor=pharmacist, start=start, end=end)
    assert caught.value.field == field
    assert message in caught.value.message


# --- Paid vs expected -------------------------------------------------------------------------


def test_paid_claims_short_by_more_than_fifty_cents_are_listed_with_totals(
    technician, pharmacist, commercial, part_d
):
    def paid(plan: Plan, gross: str, plan_paid: str, patient_pay: str, **over: Any) -> Claim:
        return make_claim(
            fill_of(technician),
            plan,
            gross_amount_due=D(gross),
            plan_paid=D(plan_paid),
            patient_pay=D(patient_pay),
            **over,
        )

    short = paid(commercial, "30.00", "20.00", "5.00")  # $5.00 short
    paid(commercial, "30.00", "24.50", "5.00")  # exactly $0.50 short: rounding, not listed
    small = paid(part_d, "12.00", "6.49", "5.00")  # $0.51 short
    paid(part_d, "12.00", "8.00", "5.00")  # over: not listed
    # A secondary: the primary paid $15.00 of $20.00; it covers the $5.00 left exactly.
    paid(part_d, "20.00", "3.00", "2.00", payer_rank=2, other_payer_paid=D("15.00"))
    make_claim(
        fill_of(technician), commercial, status=ClaimStatus.REJECTED, gross_amount_due=D("9")
    )

    report = reports.paid_vs_expected(actor=pharmacist)

    assert report.checked == 5
    assert [(r.claim_id, r.expected, r.received, r.short) for r in report.rows] == [
        (short.pk, D("30.00"), D("25.00"), D("5.00")),
        (small.pk, D("12.00"), D("11.49"), D("0.51")),
    ]
    assert (report.expected, report.received, report.short) == (D("42.00"), D("36.49"), D("5.51"))
    lines = rows_of(reports.underpaid_csv(report))
    assert lines[0][-1] == "short" and [line[-1] for line in lines[1:]] == ["5.00", "0.51"]


# --- Outstanding rejects and prior authorizations ---------------------------------------------


def test_rejects_and_open_pas_are_listed_with_age_and_follow_up(technician, pharmacist, commercial):
    today = technician.site.today()
    old = make_claim(
        fill_of(technician, last_name="Alvarez"),
        commercial,
        status=ClaimStatus.REJECTED,
        reject_codes=["75", "88"],
        message="PA REQUIRED",
    )
    Claim.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    stuck = make_claim(
        fill_of(technician, last_name="Brown"),
        commercial,
        status=ClaimStatus.ATTENTION,
        attention="The payer's answer could not be read.",
    )
    make_claim(fill_of(technician), commercial)  # paid: not outstanding
    rx = old.fill.prescription
    overdue = PriorAuth.objects.create(
        site=technician.site,
        prescription=rx,
        plan=commercial,
        claim=old,
        follow_up_on=today - dt.timedelta(days=1),
        opened_by=technician,
    )
    later = PriorAuth.objects.create(
        site=technician.site,
        prescription=stuck.fill.prescription,
        plan=commercial,
        status=PriorAuthStatus.SUBMITTED,
        follow_up_on=today + dt.timedelta(days=2),
        opened_by=technician,
    )
    PriorAuth.objects.create(
        site=technician.site,
        prescription=rx,
        plan=commercial,
        status=PriorAuthStatus.APPROVED,
        number="PA1234567",
        opened_by=technician,
    )

    report = reports.outstanding(actor=pharmacist)

    assert [(r.claim_id, r.patient, r.age_days, r.codes) for r in report.rejects] == [
        (old.pk, "Alvarez, Ana", 3, ["75", "88"]),
        (stuck.pk, "Brown, Ana", 0, []),
    ]
    assert report.rejects[0].meaning == rejects.summary(["75", "88"])
    assert report.rejects[1].message == "The payer's answer could not be read."
    assert [(p.prior_auth_id, p.overdue) for p in report.prior_auths] == [
        (overdue.pk, True),
        (later.pk, False),
    ]
    assert report.overdue == 1
    lines = rows_of(reports.outstanding_csv(report))
    assert [(line[0], line[1], line[3]) for line in lines[1:]] == [
        ("reject", str(rx.number), "Alvarez, Ana"),
        ("reject", str(stuck.rx_number), "Brown, Ana"),
        ("prior_auth", str(rx.number), "Alvarez, Ana"),
        ("prior_auth", str(stuck.rx_number), "Brown, Ana"),
    ]
    assert lines[3][-1] == "yes"


def test_a_cell_a_spreadsheet_would_run_is_quoted(technician, pharmacist, commercial):
    make_claim(
        fill_of(technician, last_name="=HYPERLINK(1)"), commercial, status=ClaimStatus.REJECTED
    )
    lines = rows_of(reports.outstanding_csv(reports.outstanding(actor=pharmacist)))
    assert lines[1][3] == "'=HYPERLINK(1), Ana"


# --- Reversals and the outbox -----------------------------------------------------------------


def test_reversals_in_the_dates_and_the_outbox_now(technician, pharmacist, commercial):
    now = timezone.now()
    mine = make_claim(
        fill_of(technician),
        commercial,
        status=ClaimStatus.REVERSED,
        reversed_at=now,
        reversed_by=pharmacist,
        reversal_reason="Not picked up",
    )
    make_claim(
        fill_of(technician),
        commercial,
        status=ClaimStatus.REVERSED,
        reversed_at=now - dt.timedelta(days=10),
        reversal_reason="Older",
    )
    system = make_claim(
        fill_of(technician),
        commercial,
        status=ClaimStatus.REVERSED,
        reversed_at=now,
        reversal_reason="Fill cancelled",
    )
    queued = make_claim(fill_of(technician), commercial, status=ClaimStatus.QUEUED, attempts=2)
    undo = make_claim(fill_of(technician), commercial, status=ClaimStatus.REVERSAL_QUEUED)

    report = reports.reversals(actor=pharmacist)

    assert [(r.claim_id, r.who, r.reason) for r in report.reversed] == [
        (mine.pk, pharmacist.display_name, "Not picked up"),
        (system.pk, "system", "Fill cancelled"),
    ]
    assert [(o.claim_id, o.status, o.attempts) for o in report.outbox] == [
        (queued.pk, "queued", 2),
        (undo.pk, "reversal_queued", 0),
    ]
    lines = rows_of(reports.reversals_csv(report))
    assert [line[0] for line in lines] == ["kind", "reversed", "reversed", "outbox", "outbox"]


# --- Return to stock due ----------------------------------------------------------------------


def _ready_days_ago(fill: Fill, days: int) -> Fill:
    Fill.objects.filter(pk=fill.pk).update(ready_at=timezone.now() - dt.timedelta(days=days))
    fill.refresh_from_db()
    return fill


def test_paid_fills_past_the_plans_window_are_due_back(technician, pharmacist, commercial, part_d):
    Plan.objects.filter(pk=part_d.pk).update(return_to_stock_days=5)
    late = _ready_days_ago(ready_fill(technician, pharmacist), 15)  # 14-day plan: due
    make_claim(late, commercial)
    fresh = _ready_days_ago(ready_fill(technician, pharmacist), 10)  # 14-day plan: not yet
    make_claim(fresh, commercial)
    # Two plans paid: the shorter window (5 days) decides.
    both = _ready_days_ago(ready_fill(technician, pharmacist), 6)
    make_claim(both, commercial)
    make_claim(both, part_d, payer_rank=2)
    rejected = _ready_days_ago(ready_fill(technician, pharmacist), 30)  # no paid claim
    make_claim(rejected, commercial, status=ClaimStatus.REJECTED)

    due = reports.rts_due(actor=pharmacist)

    today = technician.site.today()
    assert [(r.fill_id, r.window_days, r.days_waiting) for r in due] == [
        (late.pk, 14, 15),
        (both.pk, 5, 6),
    ]
    assert due[0].due_on == today - dt.timedelta(days=1)
    assert due[1].plans == "Test Commercial (BIN 610014), Test Part D (BIN 004336)"
    lines = rows_of(reports.rts_csv(due))
    assert lines[0][:3] == ["rx_number", "fill_number", "patient"]
    assert len(lines) == 3


# --- Who may read them ------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["tech", "trainee", "inventory", "admin"])
def test_only_pharmacists_and_the_auditor_read_the_reports(personas, username):
    actor = {p.username: p for p in personas.values()}[username]
    for read in (
        reports.claims_summary,
        reports.paid_vs_expected,
        reports.outstanding,
        reports.reversals,
        reports.rts_due,
    ):
        with pytest.raises(Forbidden):
            read(actor=actor)


def test_the_auditor_reads_them(auditor):
    assert reports.claims_summary(actor=auditor).claims == 0
    assert reports.rts_due(actor=auditor) == []


# --- API --------------------------------------------------------------------------------------


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_api_gives_the_summary_as_json_and_csv(technician, pharmacist, commercial):
    make_claim(
        fill_of(technician),
        commercial,
        plan_paid=D("4.00"),
        patient_pay=D("5.00"),
        gross_amount_due=D("12.00"),
    )
    client = signed_in(pharmacist)
    body = client.get("/api/v1/claims/reports/summary").json()
    assert (body["claims"], body["outbox"], body["by_status"][0]["label"]) == (1, 0, "Paid")
    assert body["paid_vs_expected"]["underpaid"][0]["short"] == "3.00"
    assert body["text"].startswith("Claims ")
    response = client.get("/api/v1/claims/reports/summary", {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert rows_of(response.content.decode())[0][0] == "date_of_service"


@pytest.mark.parametrize("name", ["summary", "underpaid", "rejects", "reversals", "rts-due"])
def test_every_report_answers_csv_with_a_header_row(pharmacist, name):
    response = signed_in(pharmacist).get(f"/api/v1/claims/reports/{name}", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert len(rows_of(response.content.decode())) == 1


def test_the_api_names_a_bad_range_and_refuses_a_technician(pharmacist, technician):
    response = signed_in(pharmacist).get(
        "/api/v1/claims/reports/summary", {"start": "2026-03-02", "end": "2026-03-01"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "end", "message": "The end date is before the start date."}
    ]
    assert signed_in(technician).get("/api/v1/claims/reports/rejects").status_code == 403


# --- The screen -------------------------------------------------------------------------------


def test_the_screen_shows_every_report(technician, pharmacist, commercial):
    make_claim(
        fill_of(technician, last_name="Alvarez"),
        commercial,
        status=ClaimStatus.REJECTED,
        reject_codes=["75"],
    )
    response = signed_in(pharmacist).get(reverse("claims_reports"))
    assert response.status_code == 200
    text = response.text
    for heading in (
        "Paid under expected",
        "Outstanding rejects (1)",
        "Open prior authorizations",
        "Reversals",
        "In the outbox now",
        "Reverse and return these",
    ):
        assert heading in text
    assert "Alvarez, Ana" in text and rejects.explain("75").meaning in text
    assert reverse("claims_report_csv", args=["rts-due"]) in text


def test_the_screen_downloads_csv_and_names_a_bad_range(pharmacist):
    client = signed_in(pharmacist)
    response = client.get(reverse("claims_report_csv", args=["summary"]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert client.get(reverse("claims_report_csv", args=["nothing"])).status_code == 404
    response = client.get(reverse("claims_reports"), {"start": "03/02/2026", "end": "03/01/2026"})
    assert response.status_code == 422
    assert response.context["form"].errors["end"] == ["The end date is before the start date."]


def test_the_screen_costs_the_same_queries_for_one_row_or_many(technician, pharmacist, commercial):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def work(last_name: str) -> None:
        claim = make_claim(
            fill_of(technician, last_name=last_name), commercial, status=ClaimStatus.REJECTED
        )
        make_claim(
            fill_of(technician, last_name=last_name),
            commercial,
            status=ClaimStatus.REVERSED,
            reversed_at=timezone.now(),
            reversed_by=pharmacist,
            reversal_reason="Not picked up",
        )
        make_claim(fill_of(technician), commercial, status=ClaimStatus.QUEUED)
        PriorAuth.objects.create(
            site=technician.site,
            prescription=claim.fill.prescription,
            plan=commercial,
            opened_by=technician,
        )

    work("Alvarez")
    client = signed_in(pharmacist)
    client.get(reverse("claims_reports"))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("claims_reports"))
    for name in ("Brown", "Chen", "Diaz"):
        work(name)
    with CaptureQueriesContext(connection) as many:
        assert "Diaz, Ana" in client.get(reverse("claims_reports")).text
    assert len(many) == len(one)


def test_a_technician_does_not_see_the_reports(technician):
    assert signed_in(technician).get(reverse("claims_reports")).status_code == 403
