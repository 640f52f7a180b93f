"""Database errors and timeouts in the middle of an operation.

For each operation a pharmacy cannot afford to half-do (counting the product out, final
verification, checking in a delivery line, billing a claim, taking payment, giving a
vaccine), the operation is first run once to count its SQL statements; then, for EVERY
write statement in turn, the database fails at exactly that statement (SQLite's "database is
locked"; on PostgreSQL a real ``statement_timeout`` cancels a slow query there). Each time,
the operation must raise ``OperationalError`` and leave every table exactly as it was (a
snapshot of every row of every table: stock, ledger, audit chain, fill history); after all
the failures the same call succeeds and the audit chain verifies. Parametrising over the
statement index is done inside one test per operation (the index is only known once the
operation has been counted), so each operation's set-up runs once.

The web layer then turns the error into words: the API answers a 503 problem, the UI a 503
page, and neither is a 500.

Then the outside parts: a claims switch that hangs (silent, or half an answer) leaves the
claim in the outbox within the plan's timeout and billing again pays it once; an
immunization registry that rejects, refuses or hangs leaves the dose as it was, says why,
and a retry delivers it. (The label printer is in test_printer.py.)"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import OperationalError, connection, transaction

from rxdesk.core.audit import audit_verify_site
from rxdesk.core.middleware import DATABASE_BUSY
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from rxdesk.rx.services.workflow import fill_data_verify, fill_final_verify, fill_product
from tests.conftest import on_postgres
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)

Snapshot = dict[str, list[tuple[Any, ...]]]


def _models(tables: set[str] | None = None) -> list[Any]:
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.app_label in {"sessions", "axes"}:
            continue
        if tables is None or meta.db_table in tables:
            found.append(model)
    return found


def snapshot(tables: set[str] | None = None) -> Snapshot:
    """Every row of the project's tables (or of ``tables``), and the row count of every
    table in one query: a write to a table the operation is not known to touch shows too."""
    rows: Snapshot = {
        model._meta.label: list(model._base_manager.order_by("pk").values_list())
        for model in _models(tables)
    }
    every = _models()
    counts = ", ".join(
        f"(SELECT COUNT(*) FROM {connection.ops.quote_name(m._meta.db_table)})" for m in every
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        row = cursor.fetchone()
    rows["row counts"] = [tuple(zip((m._meta.label for m in every), row, strict=True))]
    return rows


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    return [
        f"{label}: {len(before[label])} rows before, {len(after[label])} after"
        if len(before[label]) != len(after[label])
        else f"{label}: a row changed"
        for label in before
        if before[label] != after[label]
    ]


TABLE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z0-9_]+)"?', re.I)


@dataclass
class Statements:
    """Counts what an operation runs (``seen``) and, when ``fail_at`` is set, makes the
    database fail at that write statement (1-based, counting writes only)."""

    fail_at: int = 0
    seen: list[str] = field(default_factory=list)
    writes: int = 0
    failed: str = ""

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any
    ) -> Any:
        self.seen.append(sql)
        if WRITE.match(sql):
            self.writes += 1
            if self.writes == self.fail_at:
                self.failed = sql
                fail(execute, ctx)
        return execute(sql, params, many, ctx)


def fail(execute: Callable[..., Any], ctx: Any) -> None:
    """Fail the way the database would. On PostgreSQL: a real statement timeout, raised by
    the server on a slow query run in place of the write; elsewhere: SQLite's lock error."""
    if connection.vendor == "postgresql":
        execute("SELECT set_config('statement_timeout', '20ms', true)", None, False, ctx)
        execute("SELECT pg_sleep(2)", None, False, ctx)  # cancelled after 20 ms
        raise AssertionError("statement_timeout did not cancel the query")
    raise OperationalError("database is locked")


def dry_run(call: Callable[[], Any]) -> Statements:
    """Run ``call`` once, rolled back, to see its statements."""
    counter = Statements()
    with transaction.atomic():
        with connection.execute_wrapper(counter):
            call()
        transaction.set_rollback(True)
    return counter


def written_tables(statements: list[str]) -> set[str]:
    return {m.group(1) for sql in statements if (m := TABLE.match(sql))}


def prove_all_or_nothing(call: Callable[[], Any], site_id: int) -> Any:
    """Fail ``call`` at each of its write statements: nothing may change; then it works."""
    counted = dry_run(call)
    writes = counted.writes
    assert writes > 0
    tables = written_tables(counted.seen)
    before = snapshot(tables)
    for n in range(1, writes + 1):
        injected = Statements(fail_at=n)
        with pytest.raises(OperationalError), connection.execute_wrapper(injected):
            call()
        assert injected.failed, f"write #{n} of {writes} was not reached"
        changed = differences(before, snapshot(tables))
        assert not changed, f"failing at write #{n} ({injected.failed[:80]}) left: {changed}"
    if on_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"  # the timeout died with the failed savepoint
    result = call()
    assert audit_verify_site(site_id).broken is None
    return result


# --- the operations -------------------------------------------------------------------------


def _data_verified(technician, pharmacist) -> Fill:
    rx = make_rx(technician)
    stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    return fill_data_verify(actor=pharmacist, fill=first_fill(rx))


def _counted_out(technician, pharmacist) -> Fill:
    fill = _data_verified(technician, pharmacist)
    return fill_product(actor=technician, fill=fill, scanned_code=fill.prescription.package.ndc10)


def test_counting_the_product_out_is_all_or_nothing(site, technician, pharmacist):
    fill = _data_verified(technician, pharmacist)
    ndc = fill.prescription.package.ndc10

    def call() -> Fill:
        fresh = Fill.objects.get(pk=fill.pk)
        return fill_product(actor=technician, fill=fresh, scanned_code=ndc)

    done = prove_all_or_nothing(call, site.pk)
    assert done.status == FillStatus.FILLED


def test_final_verification_is_all_or_nothing(site, technician, pharmacist):
    fill = _counted_out(technician, pharmacist)

    def call() -> Fill:
        return fill_final_verify(actor=pharmacist, fill=Fill.objects.get(pk=fill.pk))

    done = prove_all_or_nothing(call, site.pk)
    assert done.status == FillStatus.READY


def test_checking_in_a_delivery_line_is_all_or_nothing(site, technician):
    from rxdesk.inventory.models import ReceiptLine
    from rxdesk.inventory.services import receiving
    from tests.inventory.matrix_receiving import datamatrix, prozac, receipt

    rec = receipt(site)
    code = datamatrix(prozac(), "ab12", serial="SN001")

    def call() -> ReceiptLine:
        return receiving.receipt_line_add(actor=technician, receipt=rec, scan=code)

    line = prove_all_or_nothing(call, site.pk)
    assert (line.lot_number, line.packages_received, line.serials) == ("AB12", 1, "SN001")


def test_posting_a_delivery_is_all_or_nothing(site, technician, inventory):
    from rxdesk.inventory.choices import ReceiptStatus
    from rxdesk.inventory.models import Receipt, StockBalance
    from rxdesk.inventory.services import receiving
    from tests.inventory.matrix_receiving import datamatrix, prozac, receipt

    rec = receipt(site)
    receiving.receipt_line_add(actor=technician, receipt=rec, scan=datamatrix(prozac(), "L9"))

    def call() -> Receipt:
        return receiving.receipt_post(actor=inventory, receipt=Receipt.objects.get(pk=rec.pk))

    posted = prove_all_or_nothing(call, site.pk)
    assert posted.status == ReceiptStatus.POSTED
    assert StockBalance.objects.get(site=site, lot__number="L9").on_hand == Decimal(30)


def test_taking_payment_is_all_or_nothing(site, technician, pharmacist):
    from rxdesk.pos.choices import SaleStatus
    from rxdesk.pos.models import Sale
    from rxdesk.pos.services.drawers import drawer_open
    from tests.pos.test_sales import cash, rx_sale

    drawer = drawer_open(actor=technician, opening_cash="100.00")
    sale = rx_sale(technician, pharmacist, copay="12.50", drawer=drawer)

    def call() -> Sale:
        from rxdesk.pos.services.sales import sale_pay

        return sale_pay(
            actor=technician,
            sale=Sale.objects.get(pk=sale.pk),
            tenders=[cash("12.50", tendered="20.00")],
        )

    paid = prove_all_or_nothing(call, site.pk)
    assert (paid.status, paid.change_given) == (SaleStatus.COMPLETED, Decimal("7.50"))
    assert Fill.objects.get(pk=sale.lines.get().fill_id).status == FillStatus.DISPENSED


def test_giving_a_vaccine_is_all_or_nothing(site):
    from rxdesk.immunizations import services_administer
    from rxdesk.immunizations.models import Immunization
    from tests.immunizations.administer_setup import adult, dose_kwargs, pharmacist, ready

    ready(site)
    patient = adult(site)
    rph = pharmacist(site)
    dose = dose_kwargs(site, patient)

    def call() -> Immunization:
        return services_administer.immunization_administer(actor=rph, **dose)

    given = prove_all_or_nothing(call, site.pk)
    assert Immunization.objects.filter(patient=patient).get() == given


# --- billing: the parts around the payer's answer ------------------------------------------


@pytest.mark.slow
def test_billing_a_claim_fails_cleanly_before_the_send_and_retries(site, technician):
    """``claim_bill`` keeps the request (claim *sending*) in one transaction, talks to the
    switch, then records the answer in another. A database failure in the first writes
    nothing and sends nothing; a retry bills normally."""
    from rxdesk.claims import services as claims
    from rxdesk.claims.choices import ClaimStatus
    from rxdesk.claims.models import Payer
    from tests.claims.billing_helpers import card, plan_for, priced_rx
    from tests.claims.conftest import free_port

    # No switch at all: the first transaction is what is under test, not the answer.
    plan_for(Payer.objects.create(name="Nobody home", port=free_port(), timeout_seconds=1))
    rx, fill = priced_rx(technician)
    card(rx.patient)

    def call() -> Any:
        return claims.claim_bill(actor=technician, fill=Fill.objects.get(pk=fill.pk))

    first_commit = 0
    counter = Statements()
    with transaction.atomic():
        with connection.execute_wrapper(counter):
            call()
        transaction.set_rollback(True)
    # The writes before the switch is called: the claim and the kept request.
    for sql in counter.seen:
        if WRITE.match(sql):
            first_commit += 1
        if 'INSERT INTO "claims_transmission"' in sql:
            break
    assert first_commit >= 2
    before = snapshot()
    for n in range(1, first_commit + 1):
        injected = Statements(fail_at=n)
        with pytest.raises(OperationalError), connection.execute_wrapper(injected):
            call()
        assert not differences(before, snapshot()), f"write #{n} left rows behind"
    result = call()
    assert result.claims[0].status == ClaimStatus.QUEUED
    assert audit_verify_site(site.pk).broken is None


# --- the web layer says it in words ---------------------------------------------------------


@dataclass
class LockedDatabase:
    """Every write fails as if another program held the database."""

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any):
        if WRITE.match(sql) and "django_session" not in sql and "axes_" not in sql:
            raise OperationalError("database is locked")
        return execute(sql, params, many, ctx)


def test_the_api_answers_503_in_words_and_the_retry_works(client, site, technician, pharmacist):
    fill = _counted_out(technician, pharmacist)
    client.force_login(pharmacist)
    url = f"/api/v1/fills/{fill.pk}/final-verification"
    before = snapshot()

    with connection.execute_wrapper(LockedDatabase()):
        response = client.post(url, {}, content_type="application/json")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "type": "about:blank",
        "title": "Database busy",
        "status": 503,
        "detail": DATABASE_BUSY,
    }
    assert not differences(before, snapshot())
    again = client.post(url, {}, content_type="application/json")
    assert again.status_code == 200, again.content
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.READY


def test_the_screen_shows_a_503_page_in_words(client, site, technician, pharmacist):
    fill = _counted_out(technician, pharmacist)
    client.force_login(pharmacist)
    from django.urls import reverse

    url = reverse("fill_final_verify", kwargs={"pk": fill.pk})
    before = snapshot()
    with connection.execute_wrapper(LockedDatabase()):
        response = client.post(url, {"decision": "approve", "bin": "Z9"})
    assert response.status_code == 503
    assert DATABASE_BUSY in response.content.decode()
    assert not differences(before, snapshot())


def test_the_503_is_logged_with_the_request(client, site, technician, pharmacist, caplog):
    fill = _counted_out(technician, pharmacist)
    client.force_login(pharmacist)
    with connection.execute_wrapper(LockedDatabase()):
        client.post(
            f"/api/v1/fills/{fill.pk}/final-verification",
            {},
            content_type="application/json",
            HTTP_X_REQUEST_ID="req-faults-0001",
        )
    (record,) = [r for r in caplog.records if r.name == "rxdesk.core.middleware"]
    assert record.levelname == "WARNING"
    assert "req-faults-0001" in record.getMessage()
    assert "database is locked" in record.getMessage()


# --- a switch that hangs --------------------------------------------------------------------

STX, ETX = b"\x02", b"\x03"


class HangingSwitch:
    """A switch on a loopback port in front of the test payer's adjudicator (in this
    process). Its first connection reads the claim and then answers nothing — or, with
    ``half``, the payer adjudicates (and remembers) the claim but only the first half of its
    answer comes back before the line goes silent. Later connections are answered in full:
    the switch has recovered."""

    def __init__(self, *, half: bool) -> None:
        from rxdesk.claims.testpayer import Payer, rules_from_dict
        from tests.claims.billing_helpers import plan_rules

        self.payer = Payer(rules_from_dict({"plans": [plan_rules()]}))
        self.half = half
        self.requests: list[bytes] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        hung: list[socket.socket] = []  # kept open, unanswered, until the test ends
        with contextlib.suppress(OSError):  # the server socket closed at the end of the test
            while True:
                conn, _ = self.server.accept()
                request = self._read(conn)
                self.requests.append(request)
                first = len(self.requests) == 1
                answer = b"" if first and not self.half else self.payer.respond(request).payload
                assert answer is not None
                if first:
                    if answer:
                        conn.sendall(STX + answer[: len(answer) // 2])
                    hung.append(conn)
                    continue
                with conn:
                    conn.sendall(STX + answer + ETX)
        for conn in hung:
            conn.close()

    @staticmethod
    def _read(conn: socket.socket) -> bytes:
        data = b""
        while not data.endswith(ETX):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.strip(STX + ETX)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
        self.server.close()
        self.thread.join(5)


@pytest.mark.parametrize("half", [False, True], ids=["silent", "half-an-answer"])
def test_a_hanging_switch_leaves_the_claim_in_the_outbox_and_a_retry_bills_it(
    half, site, technician
):
    from rxdesk.claims import services as claims
    from rxdesk.claims.choices import ClaimStatus, Outcome
    from rxdesk.claims.models import Claim, Payer, Transmission
    from rxdesk.core.models import AuditEvent
    from tests.claims.billing_helpers import card, plan_for, priced_rx

    switch = HangingSwitch(half=half)
    try:
        pbm = Payer.objects.create(name="Slow PBM", port=switch.port, timeout_seconds=1)
        plan_for(pbm)
        rx, fill = priced_rx(technician)
        card(rx.patient)
        fill_row = Fill.objects.filter(pk=fill.pk).values().get()
        audits = AuditEvent.objects.count()

        start = time.monotonic()
        result = claims.claim_bill(actor=technician, fill=fill)
        elapsed = time.monotonic() - start

        assert 1.0 <= elapsed < 2.5  # the plan's 1 s, plus a margin for a busy machine
        (claim,) = result.claims
        assert claim.status == ClaimStatus.QUEUED
        assert claim.get_status_display() == "Waiting in the outbox (switch not answering)"
        assert result.message == (
            "Test Commercial: No answer from the switch within 1 s; the claim may have "
            "reached the payer. The claim waits in the outbox and is sent again when the "
            "switch answers."
        )
        # Written: the claim in the outbox, its one request with no answer, one audit
        # event; not written: a payment, a price, a change to the fill.
        sent = Transmission.objects.get()
        assert (sent.outcome, sent.response, sent.claim_id) == (Outcome.NO_ANSWER, "", claim.pk)
        assert claim.plan_paid is None and claim.answered_at is None
        assert Fill.objects.filter(pk=fill.pk).values().get() == fill_row
        assert AuditEvent.objects.count() == audits + 1
        assert AuditEvent.objects.order_by("-id").first().action == "claims.claim.sent"

        # The switch is back: billing again sends the same claim and the payer pays it once
        # (a payer that had paid the first time answers "duplicate of paid").
        again = claims.claim_bill(actor=technician, fill=fill)
        assert [c.status for c in again.claims] == [ClaimStatus.PAID]
        assert again.claims[0].pk == claim.pk and again.claims[0].duplicate is half
        assert len(switch.payer.paid_claims()) == 1
        assert Claim.objects.count() == 1 and Transmission.objects.count() == 2
        first, second = (t.request for t in Transmission.objects.order_by("pk"))
        assert first == second == switch.requests[0].decode("latin-1")
        assert audit_verify_site(site.pk).broken is None
    finally:
        switch.close()


# --- a registry that rejects, refuses or hangs ----------------------------------------------


@pytest.mark.parametrize("registry", ["rejects", "refuses", "hangs"])
def test_a_registry_fault_keeps_the_dose_shows_why_and_a_retry_sends_again(
    registry, site, pharmacist
):
    """The tests of tests/immunizations cover each answer; here, for each fault, the dose
    itself is untouched, the message says why in words, and a retry delivers it."""
    from rxdesk.immunizations import queries_registry
    from rxdesk.immunizations import services_registry as services
    from rxdesk.immunizations.choices import RegistryStatus
    from rxdesk.immunizations.models import Immunization, ImmunizationVis
    from tests.immunizations.registry_setup import iis_running, pointed, queued

    message = queued(site)
    dose_row = Immunization.objects.filter(pk=message.immunization_id).values().get()
    vis_rows = list(ImmunizationVis.objects.values())

    with contextlib.ExitStack() as stack:
        if registry == "refuses":
            with socket.socket() as free:
                free.bind(("127.0.0.1", 0))
                port = free.getsockname()[1]
        else:
            answer = "silent" if registry == "hangs" else "valid"
            reject = "all" if registry == "rejects" else "none"
            server, _ = stack.enter_context(iis_running(answer=answer, reject=reject))
            port = server.port
        pointed(site, port, timeout_seconds=1)
        start = time.monotonic()
        summary = services.registry_send_due(actor=pharmacist, site=site)
        assert time.monotonic() - start < 3
    message.refresh_from_db()

    assert Immunization.objects.filter(pk=message.immunization_id).values().get() == dose_row
    assert list(ImmunizationVis.objects.values()) == vis_rows
    if registry == "rejects":
        assert (message.status, message.ack_code) == (RegistryStatus.REJECTED, "AR")
        (why,) = queries_registry.errors_in_words(message)
        assert why == (
            "Message (error): application internal error — Rejected: the test registry was "
            "told to reject this message"
        )
        assert summary.in_words() == "1 sent, 0 accepted, 1 rejected."
    else:
        assert message.status == RegistryStatus.FAILED
        expected = "refused the connection" if registry == "refuses" else "no reply within 1 s"
        assert expected in message.last_error
        assert summary.problems == [f"{message.control_id}: {message.last_error}"]

    with iis_running() as (server, brain):
        pointed(site, server.port, timeout_seconds=2)
        sent = services.registry_retry(actor=pharmacist, message=message)
    assert sent.status == RegistryStatus.ACCEPTED and sent.ack_code == "AA"
    assert brain.seen[-1].code == "AA"
    assert Immunization.objects.filter(pk=message.immunization_id).values().get() == dose_row


def test_a_database_failure_after_the_switch_answered_leaves_the_claim_for_the_outbox(
    site, technician
):
    """The one place "nothing was saved" is not the whole story: the claim and its request
    were committed before the switch was called (so a crash never loses a sent claim). If
    the database then fails while the answer is recorded, the claim stays *sending*: billing
    again says it is being sent, and the outbox sends it again (same key: the payer answers
    "duplicate of paid", so nothing is paid twice) once it is 5 minutes old."""
    from rxdesk.claims import services as claims
    from rxdesk.claims.choices import ClaimStatus
    from rxdesk.claims.models import Claim, Payer
    from rxdesk.core.errors import Conflict
    from tests.claims.billing_helpers import card, plan_for, priced_rx

    switch = HangingSwitch(half=False)
    switch.requests.append(b"")  # no hang: every connection is answered in full
    try:
        plan_for(Payer.objects.create(name="PBM", port=switch.port, timeout_seconds=2))
        rx, fill = priced_rx(technician)
        card(rx.patient)

        def locked_after_the_answer(execute, sql, params, many, ctx):  # type: ignore[no-untyped-def]
            if sql.lstrip().upper().startswith("UPDATE") and "claims_transmission" in sql:
                raise OperationalError("database is locked")
            return execute(sql, params, many, ctx)

        with pytest.raises(OperationalError), connection.execute_wrapper(locked_after_the_answer):
            claims.claim_bill(actor=technician, fill=fill)
        claim = Claim.objects.get()
        assert claim.status == ClaimStatus.SENDING
        assert claim.transmissions.get().response == ""
        with pytest.raises(Conflict, match="being sent right now"):
            claims.claim_bill(actor=technician, fill=fill)

        Claim.objects.filter(pk=claim.pk).update(
            sent_at=claim.sent_at - claims.STALE_SENDING - dt.timedelta(seconds=1)
        )
        summary = claims.outbox_replay(site=site)
        claim.refresh_from_db()
        assert (summary.sent, summary.paid) == (1, 1)
        assert claim.status == ClaimStatus.PAID and claim.duplicate
        assert len(switch.payer.paid_claims()) == 1
    finally:
        switch.close()
