"""``rxdesk claims report`` prints the day's claims in words (or CSV); ``rxdesk claims
outbox`` sends what waits in the outbox to a real test payer once the switch is back, and
with --watch keeps doing it."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rxdesk.claims.choices import ClaimStatus
from rxdesk.claims.models import Claim
from rxdesk.core.models import AuditEvent
from rxdesk.patients.models import Coverage
from tests.claims.test_plans import make_claim, make_payer, make_plan
from tests.pos.factories import price
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db

D = Decimal


def run(*args: object) -> str:
    out = io.StringIO()
    call_command("claims", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_report_says_the_day_in_words(site, technician):
    plan = make_plan()
    for plan_paid, patient_pay in (("500.00", "100.00"), ("12.10", "30.00")):
        make_claim(
            first_fill(make_rx(technician)),
            plan,
            plan_paid=D(plan_paid),
            patient_pay=D(patient_pay),
            gross_amount_due=D(plan_paid) + D(patient_pay) + D("2.00"),
        )
    for _ in range(2):
        make_claim(first_fill(make_rx(technician)), plan, status=ClaimStatus.REJECTED)
    make_claim(first_fill(make_rx(technician)), plan, status=ClaimStatus.QUEUED)
    today = site.today().isoformat()

    text = run("report", "--site", site.pk)

    assert text.splitlines() == [
        f"Claims {today}: 2 paid ($512.10 plan, $130.00 patients), 2 rejected, 1 in the outbox",
        "  Test Commercial (BIN 610014): 2 paid, 2 rejected, 1 in the outbox",
        "2 paid claims under expected by $4.00 in all.",
    ]


def test_the_report_takes_a_range_and_writes_csv(site, technician):
    plan = make_plan()
    day = site.today() - dt.timedelta(days=3)
    make_claim(first_fill(make_rx(technician)), plan, date_of_service=day, plan_paid=D("7.00"))

    text = run("report", "--site", site.pk, "--start", day, "--end", site.today(), "--csv")

    assert text.splitlines() == [
        "date_of_service,plan,bin,status,claims,patient_pay,plan_paid",
        f"{day.isoformat()},Test Commercial,610014,paid,1,0.00,7.00",
    ]
    quiet = run("report", "--site", site.pk)
    assert quiet.startswith(f"Claims {site.today().isoformat()}: 0 paid ($0.00 plan, $0.00 ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "--site", "0"), "No site 0."),
        (("report", "--site", "99999999999999999999"), "No site 99999999999999999999."),
        (("report", "--site", "{site}", "--start", "11/26/2026"), "is not a date: use YYYY-MM-DD"),
        (
            ("report", "--site", "{site}", "--start", "2026-03-02", "--end", "2026-03-01"),
            "The end date is before the start date.\n  end: The end date is before",
        ),
        (("outbox", "--site", "{site}", "--watch", "0"), "--watch takes a number of seconds"),
        (("outbox", "--site", "{site}", "--watch", "soon"), "--watch takes a number of seconds"),
    ],
)
def test_bad_arguments_are_refused_in_words(site, args, message):
    with pytest.raises(CommandError) as caught:
        run(*[str(a).replace("{site}", str(site.pk)) for a in args])
    assert message in str(caught.value)


def test_an_empty_outbox_says_so(site):
    assert run("outbox", "--site", site.pk) == f"{site.name}: the outbox is empty.\n"


@pytest.fixture
def queued_claim(site, technician, test_payer):
    """A claim billed while the switch was down: it waits in the outbox. The test payer is
    stopped; ``start_again()`` brings the switch back on the same port."""
    site.npi = "1234567893"
    site.save(update_fields=["npi"])
    payer = test_payer()
    make_plan(make_payer(port=payer.port, timeout_seconds=5))
    payer.stop()
    fill = first_fill(make_rx(technician))
    price(fill.prescription.package, "30.00")
    Coverage.objects.create(
        patient=fill.prescription.patient, bin="610014", pcn="TESTPCN", member_id="ZX123456"
    )
    from rxdesk.claims import services

    services.claim_bill(actor=technician, fill=fill)
    claim = Claim.objects.get(fill=fill)
    assert claim.status == ClaimStatus.QUEUED
    return payer, claim


def test_the_outbox_is_sent_once_the_switch_is_back(site, queued_claim):
    payer, claim = queued_claim
    payer.start_again()

    text = run("outbox", "--site", site.pk)

    assert text.splitlines() == [
        f"  {site.name}: 1 of 1 done",
        f"{site.name}: 1 sent — 1 paid, 0 rejected, 0 reversed; 0 still waiting.",
    ]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    [event] = AuditEvent.objects.filter(action="claims.outbox.replayed")
    assert (event.actor_id, event.actor_kind, event.site_id) == (None, "system", site.pk)


def test_a_switch_still_down_leaves_the_claim_waiting(site, queued_claim):
    _, claim = queued_claim
    text = run("outbox")
    assert f"{site.name}: 0 sent — 0 paid, 0 rejected, 0 reversed; 1 still waiting." in text
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.QUEUED


def test_watch_sends_again_every_few_seconds(site, queued_claim):
    payer, claim = queued_claim
    payer.start_again()

    text = run("outbox", "--site", site.pk, "--watch", "1", "--passes", "2")

    assert text.splitlines()[-2:] == [
        f"{site.name}: 1 sent — 1 paid, 0 rejected, 0 reversed; 0 still waiting.",
        f"{site.name}: the outbox is empty.",
    ]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
