"""Billing: every write of a claim, an eligibility check, a reversal, a rebill, the outbox.

A claim is sent in three steps, so that no database transaction waits on the network:

1. in a short transaction the claim row is written (or moved) to *sending* and the request
   kept as a :class:`Transmission` — the unique live-claim constraint and a conditional
   update make sure one fill is never billed twice to one payer at the same time;
2. the request goes over TCP to the payer's switch (no transaction open);
3. in a second short transaction the answer is recorded: paid, captured, rejected (with
   codes and what to do), needs attention (an answer that could not be read — the bytes are
   kept), or back in the outbox when the switch did not answer.

The outbox replays a claim with the very same request, so the payer sees the same Rx, fill
and date of service and answers "duplicate of paid" if the first one got through: a claim
is paid once, whatever the network did.

Coordination of benefits: the payers of a fill are billed in order (plans by rank, copay
card last); each next payer gets the previous payers' paid amounts and the patient's
remaining responsibility, with the other coverage code that says so."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package, PackagePrice
from rxdesk.claims import builder, ncpdp, queries, rejects, transport
from rxdesk.claims import seams as claim_seams
from rxdesk.claims.builder import ClaimData, OtherPayer
from rxdesk.claims.choices import (
    ACCEPTED,
    DEAD,
    OUTBOX,
    BillingMode,
    ClaimStatus,
    EligibilityStatus,
    Outcome,
    TransmissionKind,
)
from rxdesk.claims.models import Claim, Eligibility, FillBilling, Plan, Transmission
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.capabilities import require as authorize
from rxdesk.core.errors import Conflict, DomainError, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.patients.choices import CoverageKind
from rxdesk.patients.models import Coverage
from rxdesk.rx import seams
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

log = logging.getLogger(__name__)

register_actions(
    {
        "claims.claim.sent": "A claim was sent to a payer and answered (or not)",
        "claims.claim.resubmitted": "A rejected claim was corrected and sent again",
        "claims.claim.reversal_requested": "A paid claim's reversal was asked for",
        "claims.claim.reversed": "A payer accepted a claim's reversal",
        "claims.claim.rebilled": "A paid claim was rebilled (B3)",
        "claims.claim.closed": "A claim was closed without payment",
        "claims.fill.cash": "A fill was switched to cash",
        "claims.fill.proceed": "A pharmacist let a fill go on while its claim waits",
        "claims.fill.adjusted": "A fill's quantity or days supply was changed for a plan limit",
        "claims.eligibility.checked": "A patient's coverage was checked with the payer (E1)",
        "claims.outbox.replayed": "The claims outbox was sent again",
    }
)

CENT = Decimal("0.01")
STALE_SENDING = dt.timedelta(minutes=5)
NOT_BILLABLE = frozenset({FillStatus.DISPENSED, FillStatus.RETURNED, FillStatus.CANCELLED})
ADJUSTABLE = frozenset(
    {FillStatus.QUEUED, FillStatus.SCHEDULED, FillStatus.ON_HOLD, FillStatus.TO_FILL}
)
# Rejects after which the next payer is billed with other coverage code 3 (not covered).
_NOT_COVERED = frozenset({"70", "MR", "65", "AC", "60", "61"})


@dataclass(frozen=True)
class BillResult:
    fill: Fill
    claims: list[Claim]
    patient_pay: Decimal | None
    message: str


@dataclass
class ReplaySummary:
    sent: int = 0
    paid: int = 0
    rejected: int = 0
    still_waiting: int = 0
    reversed: int = 0


# --------------------------------------------------------------------------------------
# Reading a fill into a claim


def _own(actor: User | None, site_id: int, what: str = "fill") -> None:
    if actor is not None and actor.site_id != site_id:
        raise NotFound(f"No such {what} at this pharmacy.")


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace("$", "").replace(",", ""))
    except (InvalidOperation, ValueError):
        raise Invalid("Type an amount in dollars and cents, e.g. 10.00.", field=field) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
        raise Invalid("Type an amount in dollars and cents, e.g. 10.00.", field=field)
    if amount >= Decimal("100000"):
        raise Invalid("That amount is too large.", field=field)
    return amount


def _latest_price(package: Package, kind: str) -> Decimal | None:
    row = (
        PackagePrice.objects.filter(package=package, kind=kind)
        .order_by("-effective_on", "-pk")
        .values_list("amount", flat=True)
        .first()
    )
    return row


def _pricing(package: Package, quantity: Decimal, fee: Decimal) -> dict[str, Any]:
    """Ingredient cost from the list price (AWP-style, basis 01), else the acquisition cost
    (05), else the usual and customary price (07); U&C is the cash price."""
    per_package = {
        kind: _latest_price(package, kind)
        for kind in (PriceKind.LIST, PriceKind.ACQUISITION, PriceKind.USUAL_CUSTOMARY)
    }
    basis = {
        PriceKind.LIST: builder.BASIS_AWP,
        PriceKind.ACQUISITION: builder.BASIS_ACQUISITION,
        PriceKind.USUAL_CUSTOMARY: builder.BASIS_USUAL,
    }
    for kind in (PriceKind.LIST, PriceKind.ACQUISITION, PriceKind.USUAL_CUSTOMARY):
        amount = per_package[kind]
        if amount is not None:
            ingredient = builder.prorate(amount, package.package_quantity, quantity)
            break
    else:
        raise Invalid(
            f"No price on file for NDC {package.ndc10}: add its list, acquisition or usual "
            "and customary price before billing.",
            field="package",
        )
    usual = per_package[PriceKind.USUAL_CUSTOMARY]
    cash = (
        builder.prorate(usual, package.package_quantity, quantity)
        if usual is not None
        else (ingredient + fee).quantize(CENT)
    )
    return {
        "ingredient_cost": ingredient,
        "dispensing_fee": fee,
        "usual_customary": cash,
        "basis_of_cost": basis[kind],
    }


def _plan_of(coverage: Coverage) -> Plan:
    plan = queries.plan_for(coverage)
    if plan is None:
        pcn = f" PCN {coverage.pcn}" if coverage.pcn else ""
        raise Invalid(
            f"No plan on file for BIN {coverage.bin}{pcn}: a pharmacist adds it under "
            "Claims → Plans before this card can be billed.",
            field="coverage",
        )
    if not plan.payer.active:
        raise Conflict(f"{plan.payer} is switched off in the plan file.", field="coverage")
    return plan


def _claim_data(
    fill: Fill,
    coverage: Coverage,
    plan: Plan,
    *,
    date_of_service: dt.date,
    other_coverage_code: int = 0,
    other_payers: tuple[OtherPayer, ...] = (),
    claim: Claim | None = None,
) -> ClaimData:
    rx = fill.prescription
    site = fill.site
    patient = rx.patient
    package = fill.package or rx.package
    if package is None:
        raise Invalid("Choose the package (NDC) to bill before billing.", field="package")
    if not site.npi:
        raise Invalid(
            "The pharmacy's NPI is not set: the PIC adds it in the site settings.", field="npi"
        )
    from rxdesk.claims.queries_pa import pa_in_effect
    from rxdesk.screening.queries import fill_dur

    prices = _pricing(package, fill.quantity, plan.dispensing_fee)
    pa_number = claim.prior_auth_number if claim and claim.prior_auth_number else ""
    if not pa_number:
        approved = pa_in_effect(rx.pk, plan.pk, date_of_service)
        pa_number = approved.number if approved else ""
    dur = tuple(claim.dur_pps) if claim and claim.dur_pps else tuple(fill_dur(fill))
    marks = claim_seams.marks_for(
        fill, plan, tuple(str(c) for c in (claim.clarification_codes if claim else []))
    )
    if marks.basis_of_cost:
        prices["basis_of_cost"] = marks.basis_of_cost
    phone = patient.phone_mobile or patient.phone_home or ""
    cardholder = coverage.relationship == "1"
    return ClaimData(
        bin=plan.bin,
        pcn=plan.pcn or coverage.pcn.strip().upper(),
        pharmacy_npi=site.npi,
        date_of_service=date_of_service,
        software_vendor_id=plan.payer.software_vendor_id,
        cardholder_id=coverage.member_id.strip().upper(),
        group=coverage.group.strip().upper(),
        person_code=coverage.person_code,
        relationship=coverage.relationship,
        cardholder_first_name=patient.first_name if cardholder else "",
        cardholder_last_name=patient.last_name if cardholder else "",
        date_of_birth=patient.date_of_birth,
        gender=builder.GENDER.get(patient.sex, "0"),
        first_name=patient.first_name,
        last_name=patient.last_name,
        street=patient.address_line1,
        city=patient.city,
        state=patient.state,
        zip_code=patient.postal_code,
        phone=phone,
        rx_number=rx.number,
        fill_number=fill.number,
        ndc=package.ndc11,
        quantity=fill.quantity,
        unit=package.billing_unit or "EA",
        days_supply=fill.days_supply,
        daw=rx.daw,
        date_written=rx.date_written,
        refills_authorized=rx.refills_authorized,
        origin=rx.origin,
        quantity_prescribed=rx.quantity,
        other_coverage_code=other_coverage_code,
        clarification_codes=marks.clarification_codes,
        prior_auth_number=pa_number,
        prescriber_npi=rx.prescriber.npi,
        prescriber_last_name=rx.prescriber.last_name,
        prescriber_first_name=rx.prescriber.first_name,
        dur_pps=dur,
        other_payers=other_payers,
        **prices,
    )


def _cob_for(fill: Fill, rank: int, coverage: Coverage) -> tuple[int, tuple[OtherPayer, ...]]:
    """The other coverage code and COB occurrences for the payer at ``rank``, from the
    fill's earlier payers' claims."""
    if rank == 1:
        return 0, ()
    earlier = list(
        Claim.objects.filter(fill=fill, payer_rank__lt=rank)
        .exclude(status__in=DEAD)
        .select_related("plan")
        .order_by("payer_rank")
    )
    others: list[OtherPayer] = []
    code = builder.OCC_PAID
    for previous in earlier:
        if previous.status in ACCEPTED:
            others.append(
                OtherPayer(
                    rank=previous.payer_rank,
                    bin=previous.plan.bin,
                    date=previous.date_of_service,
                    amount_paid=previous.plan_paid or Decimal("0.00"),
                    patient_responsibility=previous.patient_pay,
                )
            )
            if not previous.plan_paid:
                code = builder.OCC_NOT_COLLECTED
        else:
            others.append(
                OtherPayer(
                    rank=previous.payer_rank,
                    bin=previous.plan.bin,
                    date=previous.date_of_service,
                    reject_codes=tuple(previous.reject_codes),
                )
            )
            code = builder.OCC_NOT_COVERED
    if coverage.kind == CoverageKind.COPAY_CARD:
        code = builder.OCC_COPAY_ONLY
    return code, tuple(others)


# --------------------------------------------------------------------------------------
# Sending and recording


def _text(data: bytes) -> str:
    return data.decode("latin-1")


def _exchange(plan: Plan, message: bytes) -> tuple[Outcome, bytes, str, int]:
    start = time.perf_counter()
    try:
        answer = transport.exchange(
            plan.payer.host, plan.payer.port, message, timeout=float(plan.payer.timeout_seconds)
        )
    except transport.SwitchUnreachable as exc:
        return Outcome.NO_CONNECTION, b"", str(exc), _ms(start)
    except transport.SwitchNoAnswer as exc:
        return Outcome.NO_ANSWER, b"", str(exc), _ms(start)
    return Outcome.ANSWERED, answer, "", _ms(start)


def _ms(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


def _segment_fields(segment: ncpdp.Segment | None) -> dict[str, str]:
    if segment is None:
        return {}
    return {fid: str(value) for fid, value in segment.fields}


def _dur_rows(segment: ncpdp.Segment | None) -> list[dict[str, str]]:
    """The payer's DUR/PPS alerts (AM24): one dict per occurrence, opened by 567-J6."""
    if segment is None:
        return []
    rows: list[dict[str, str]] = []
    for fid, value in segment.fields:
        if fid == "J6" or not rows:
            rows.append({})
        rows[-1][fid] = str(value)
    return rows


def _messages(response: ncpdp.Response, answer: ncpdp.ResponseTransaction | None) -> str:
    parts: list[str] = []
    head = response.segment(ncpdp.SegmentCode.RESPONSE_MESSAGE)
    if head is not None:
        parts += [str(v) for v in head.get_all("F4")]
    if answer is not None:
        status = answer.segment(ncpdp.SegmentCode.RESPONSE_STATUS)
        if status is not None:
            parts += [str(v) for v in status.get_all("FQ")]
        claim = answer.segment(ncpdp.SegmentCode.RESPONSE_CLAIM)
        if claim is not None:
            preferred = [str(v) for v in claim.get_all("AR")]
            if preferred:
                parts.append("Plan prefers NDC " + ", ".join(preferred))
    return "; ".join(p.strip() for p in parts if p.strip())[:400]


@dataclass(frozen=True)
class _Answer:
    status: ClaimStatus
    fields: dict[str, Any]
    summary: str


def _read_answer(raw: bytes, *, reversal: bool) -> _Answer:
    """What the payer said, as claim fields. An answer that cannot be read is not lost:
    the claim needs attention and the bytes stay on the transmission."""
    try:
        response = ncpdp.decode_response(raw)
    except ncpdp.NcpdpError as exc:
        why = f"The payer's answer could not be read ({exc}); call the help desk."
        return _Answer(ClaimStatus.ATTENTION, {"attention": why[:400]}, why)
    answer = response.transactions[0] if response.transactions else None
    message = _messages(response, answer)
    codes = list(answer.reject_codes) if answer else []
    if response.header.status == ncpdp.HeaderStatus.REJECTED and not codes:
        codes = ["NN"]
    if reversal:
        if answer is not None and answer.status == ncpdp.TransactionStatus.APPROVED:
            return _Answer(ClaimStatus.REVERSED, {"message": message}, "Reversal accepted.")
        if codes and set(codes) <= {"84"}:
            return _Answer(
                ClaimStatus.REVERSED,
                {"message": message},
                "Nothing to reverse: the payer has no paid claim for it.",
            )
        why = f"Reversal refused: {rejects.summary(codes) if codes else 'no status'}"
        return _Answer(ClaimStatus.ATTENTION, {"attention": why[:400], "message": message}, why)
    fields: dict[str, Any] = {"reject_codes": codes, "message": message}
    if answer is not None:
        fields["dur_response"] = _dur_rows(answer.segment(ncpdp.SegmentCode.RESPONSE_DUR_PPS))
    if codes or answer is None or answer.status == ncpdp.TransactionStatus.REJECTED:
        summary = "Rejected: " + (rejects.summary(codes) if codes else "no reason given")
        return _Answer(ClaimStatus.REJECTED, fields, summary)

    def amount(fid: str) -> Decimal | None:
        seg = answer.segment(ncpdp.SegmentCode.RESPONSE_PRICING)
        value = seg.get(fid) if seg else None
        return value if isinstance(value, Decimal) else None

    fields.update(
        patient_pay=amount("F5"),
        plan_paid=amount("F9"),
        ingredient_paid=amount("F6"),
        fee_paid=amount("F7"),
        copay=amount("FI"),
        authorization_number=(answer.authorization_number or "")[:20],
    )
    status = answer.status
    if status in (ncpdp.TransactionStatus.PAID, ncpdp.TransactionStatus.DUPLICATE_OF_PAID):
        fields["duplicate"] = status == ncpdp.TransactionStatus.DUPLICATE_OF_PAID
        pay = fields["patient_pay"]
        return _Answer(
            ClaimStatus.PAID,
            fields,
            "Paid" + (f": the patient pays ${pay}" if pay is not None else ""),
        )
    if status in (ncpdp.TransactionStatus.CAPTURED, ncpdp.TransactionStatus.DUPLICATE_OF_CAPTURED):
        fields["duplicate"] = status == ncpdp.TransactionStatus.DUPLICATE_OF_CAPTURED
        return _Answer(ClaimStatus.CAPTURED, fields, "Captured (accepted, no payment).")
    why = f"The payer answered with status {status!r}, which rxdesk does not treat as paid."
    fields["attention"] = why
    return _Answer(ClaimStatus.ATTENTION, fields, why)


def _start(claim_id: int, allowed: Iterable[str], actor: User | None) -> bool:
    """Move a claim to sending if it is in one of ``allowed`` (a conditional update: two
    counters, or the outbox and a counter, never send the same claim at once)."""
    return bool(
        Claim.objects.filter(pk=claim_id, status__in=list(allowed)).update(
            status=ClaimStatus.SENDING,
            attempts=F("attempts") + 1,
            sent_at=timezone.now(),
            submitted_by=actor,
        )
    )


def _keep(claim: Claim, kind: TransmissionKind, message: bytes, actor: User | None) -> Transmission:
    """The request, kept before it leaves (a crash mid-exchange leaves it for the outbox)."""
    return Transmission.objects.create(
        site_id=claim.site_id, claim=claim, kind=kind, request=_text(message), actor=actor
    )


def _transmit(
    claim: Claim,
    kind: TransmissionKind,
    message: bytes,
    actor: User | None,
    sent: Transmission | None = None,
) -> tuple[Claim, str]:
    """Send a claim that is *sending*, and record the answer. Returns the claim as it now
    stands and a sentence for the technician. ``sent``: the request already kept in the
    transaction that moved the claim to sending (one commit fewer)."""
    if sent is None:
        sent = _keep(claim, kind, message, actor)
    outcome, raw, error, elapsed = _exchange(claim.plan, message)
    reversal = kind == TransmissionKind.REVERSAL
    with transaction.atomic():
        locked = Claim.objects.select_for_update().select_related("plan__payer").get(pk=claim.pk)
        Transmission.objects.filter(pk=sent.pk).update(
            response=_text(raw), outcome=outcome, error=error[:400], elapsed_ms=elapsed
        )
        if outcome != Outcome.ANSWERED:
            locked.status = ClaimStatus.REVERSAL_QUEUED if reversal else ClaimStatus.QUEUED
            summary = (
                f"{error} The {'reversal' if reversal else 'claim'} waits in the outbox and is "
                "sent again when the switch answers."
            )
            locked.save(update_fields=["status"])
        else:
            read = _read_answer(raw, reversal=reversal)
            for name, value in read.fields.items():
                setattr(locked, name, value)
            locked.status = read.status
            locked.answered_at = timezone.now()
            if read.status == ClaimStatus.REVERSED:
                locked.reversed_at = timezone.now()
                locked.reversed_by = actor
            if read.status == ClaimStatus.ATTENTION and raw:
                Transmission.objects.filter(pk=sent.pk).update(outcome=Outcome.UNREADABLE)
            locked.save()
            summary = read.summary
        audit_record(
            actor=actor,
            site=claim.site,
            action="claims.claim.reversed"
            if locked.status == ClaimStatus.REVERSED
            else "claims.claim.sent",
            obj=locked,
            patient_id=claim.fill.prescription.patient_id,
            data={
                "kind": kind.value,
                "fill_id": claim.fill_id,
                "plan_id": claim.plan_id,
                "status": locked.status,
                "outcome": outcome,
                "reject_codes": list(locked.reject_codes),
                "elapsed_ms": elapsed,
            },
        )
    return locked, f"{claim.plan.name}: {summary}"


def _load_fill(fill: Fill) -> Fill:
    return Fill.objects.select_related(
        "site",
        "package",
        "prescription__patient",
        "prescription__prescriber",
        "prescription__product",
        "prescription__package",
    ).get(pk=fill.pk)


def _prepare(
    actor: User | None,
    fill: Fill,
    rank: int,
    coverage: Coverage,
    *,
    corrections: dict[str, Any] | None = None,
) -> tuple[Claim, bytes, Transmission] | None:
    """Write the payer's claim as *sending*, build its request and keep it; None when the
    payer already accepted it (nothing to send)."""
    plan = _plan_of(coverage)
    with transaction.atomic():
        current = (
            Claim.objects.select_for_update()
            .filter(fill=fill, payer_rank=rank)
            .exclude(status__in=DEAD)
            .first()
        )
        if current is not None and current.status in ACCEPTED:
            return None
        if current is not None and current.status == ClaimStatus.SENDING:
            raise Conflict(
                f"The claim to {current.plan.name} is being sent right now; wait for its answer.",
                field="status",
            )
        if current is not None and current.status == ClaimStatus.REVERSAL_QUEUED:
            raise Conflict(
                f"The claim to {current.plan.name} is being reversed; bill again once the "
                "reversal is answered.",
                field="status",
            )
        dos = current.date_of_service if current else fill.site.today()
        code, others = _cob_for(fill, rank, coverage)
        if current is not None and corrections:
            for name, value in corrections.items():
                setattr(current, name, value)
        data = _claim_data(
            fill,
            coverage,
            plan,
            date_of_service=dos,
            other_coverage_code=(corrections or {}).get("other_coverage_code") or code,
            other_payers=others,
            claim=current,
        )
        if corrections and corrections.get("daw") is not None:
            data = data.with_changes(daw=corrections["daw"])
        values = {
            "coverage": coverage,
            "plan": plan,
            "ndc": data.ndc,
            "quantity": data.quantity,
            "days_supply": data.days_supply,
            "daw": data.daw,
            "other_coverage_code": data.other_coverage_code,
            "clarification_codes": list(data.clarification_codes),
            "prior_auth_number": data.prior_auth_number,
            "dur_pps": [dict(r) for r in data.dur_pps],
            "ingredient_cost": data.ingredient_cost,
            "dispensing_fee": data.dispensing_fee,
            "usual_customary": data.usual_customary,
            "gross_amount_due": data.gross_amount_due,
            "other_payer_paid": sum(
                (o.amount_paid or Decimal("0.00") for o in others), Decimal("0.00")
            )
            if others
            else None,
            "reject_codes": [],
            "attention": "",
        }
        message = ncpdp.encode_request(builder.billing_request(data))
        if current is None:
            try:
                with transaction.atomic():
                    current = Claim.objects.create(
                        site=fill.site,
                        fill=fill,
                        payer_rank=rank,
                        status=ClaimStatus.SENDING,
                        rx_number=data.rx_number,
                        fill_number=data.fill_number,
                        date_of_service=dos,
                        attempts=1,
                        sent_at=timezone.now(),
                        submitted_by=actor,
                        **values,
                    )
            except IntegrityError:
                raise Conflict(
                    "This fill is being billed at another workstation; wait for its answer.",
                    field="status",
                ) from None
        else:
            for name, value in values.items():
                setattr(current, name, value)
            current.save()
            if not _start(
                current.pk,
                [ClaimStatus.REJECTED, ClaimStatus.ATTENTION, ClaimStatus.QUEUED],
                actor,
            ):
                raise Conflict("The claim changed meanwhile; open it again.", field="status")
            current.refresh_from_db()
        sent = _keep(current, TransmissionKind.BILLING, message, actor)
    return current, message, sent


def _bill_chain(
    actor: User | None,
    fill: Fill,
    *,
    start_rank: int = 1,
    corrections: dict[str, Any] | None = None,
) -> BillResult:
    fill = _load_fill(fill)
    chain = queries.billing_order(fill.prescription.patient, fill.site.today())
    if not chain:
        raise Conflict(
            "No plan to bill: the patient has no active insurance on file (cash).",
            field="coverage",
        )
    sentences: list[str] = []
    billed: list[Claim] = []
    for rank, coverage in enumerate(chain[:3], start=1):
        if rank < start_rank:
            continue
        prepared = _prepare(
            actor, fill, rank, coverage, corrections=corrections if rank == start_rank else None
        )
        if prepared is None:
            continue  # this payer already paid
        claim, message, sent = prepared
        claim.fill = fill
        result, sentence = _transmit(claim, TransmissionKind.BILLING, message, actor, sent)
        billed.append(result)
        sentences.append(sentence)
        if result.status == ClaimStatus.REJECTED and "75" in result.reject_codes:
            _open_pa(actor, fill, result)
        if result.status not in ACCEPTED:
            break
    pays = queries.patient_pays([fill])
    pay = pays.get(fill.pk)
    if pay is not None and billed and billed[-1].status in ACCEPTED:
        sentences.append(f"The patient pays ${pay}.")
    return BillResult(fill=fill, claims=billed, patient_pay=pay, message=" ".join(sentences))


def _open_pa(actor: User | None, fill: Fill, claim: Claim) -> None:
    """A 75 opens (or finds) the prior authorization case for the Rx and plan."""
    if actor is None or not has(actor, Cap.CLAIMS_BILL):
        return
    from rxdesk.claims.services_pa import pa_open

    try:
        pa_open(actor=actor, prescription=fill.prescription, plan=claim.plan, claim=claim)
    except DomainError as exc:  # the claim's answer stands; the PA is started by hand
        log.info("No PA case opened for claim %s: %s", claim.pk, exc.message)


# --------------------------------------------------------------------------------------
# The services


def _billable_fill(actor: User, fill: Fill) -> Fill:
    _own(actor, fill.site_id)
    fill = Fill.objects.select_related("prescription").get(pk=fill.pk)
    if fill.status in NOT_BILLABLE:
        raise Conflict(
            f"Fill {fill.prescription.number}-{fill.number} is "
            f"{fill.get_status_display().lower()}; it is not billed.",
            field="status",
        )
    decision = FillBilling.objects.filter(fill=fill).first()
    if decision is not None and decision.mode == BillingMode.CASH:
        raise Conflict(
            f"Fill {fill.prescription.number}-{fill.number} was switched to cash; it is not "
            "billed to a plan.",
            field="status",
        )
    return fill


def claim_bill(*, actor: User, fill: Fill) -> BillResult:
    """Bill a fill in real time to its payers in order (COB; a copay card last)."""
    authorize(actor, Cap.CLAIMS_BILL)
    fill = _billable_fill(actor, fill)
    return _bill_chain(actor, fill)


_CORRECTIONS = {
    "prior_auth_number",
    "clarification_codes",
    "dur_pps",
    "days_supply",
    "quantity",
    "daw",
    "other_coverage_code",
}


def _clean_corrections(actor: User, claim: Claim, given: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pa = given.get("prior_auth_number")
    if pa is not None:
        pa = str(pa).strip().upper()
        if not pa or len(pa) > 11 or not pa.isalnum():
            raise Invalid("A PA number is 1 to 11 letters and digits.", field="prior_auth_number")
        out["prior_auth_number"] = pa
    codes = given.get("clarification_codes")
    if codes is not None:
        cleaned: list[str] = []
        for code in [codes] if isinstance(codes, str) else codes:
            number = _code(
                code,
                1,
                99,
                f"{code!r} is not a submission clarification code (1–99).",
                "clarification_codes",
            )
            cleaned.append(str(number))
        if len(cleaned) > 3:
            raise Invalid("At most 3 submission clarification codes.", field="clarification_codes")
        if {"3", "4"} & set(cleaned):
            # A vacation or lost-medication override is a pharmacist's call.
            authorize(actor, Cap.SCREENING_RESOLVE)
        out["clarification_codes"] = cleaned
    dur = given.get("dur_pps")
    if dur is not None:
        authorize(actor, Cap.SCREENING_RESOLVE)  # DUR/PPS codes are the pharmacist's
        rows: list[dict[str, str]] = []
        for row in dur:
            if not isinstance(row, dict):
                raise Invalid(
                    "Each DUR/PPS line gives a reason, a professional service and a result.",
                    field="dur_pps",
                )
            reason = str(row.get("reason_for_service", "")).strip().upper()
            service = str(row.get("professional_service", "")).strip().upper()
            result = str(row.get("result_of_service", "")).strip().upper()
            if not (len(reason) == 2 and len(service) == 2 and len(result) == 2):
                raise Invalid(
                    "Each DUR/PPS line needs a reason (e.g. DD), a professional service (e.g. M0) "
                    "and a result (e.g. 1G), two characters each.",
                    field="dur_pps",
                )
            rows.append(
                {
                    "reason_for_service": reason,
                    "professional_service": service,
                    "result_of_service": result,
                    "level_of_effort": "",
                    "co_agent_qualifier": "",
                    "co_agent_id": "",
                }
            )
        if not 1 <= len(rows) <= 9:
            raise Invalid("Give 1 to 9 DUR/PPS lines.", field="dur_pps")
        out["dur_pps"] = rows
    if given.get("daw") is not None:
        out["daw"] = _code(given["daw"], 0, 9, "DAW is a code from 0 to 9.", "daw")
    if given.get("other_coverage_code") is not None:
        out["other_coverage_code"] = _code(
            given["other_coverage_code"],
            0,
            8,
            "The other coverage code is 0 to 8.",
            "other_coverage_code",
        )
    return out


def _code(value: Any, low: int, high: int, message: str, field: str) -> int:
    """A small numeric NCPDP code typed as digits ("03" or 3), within [low, high]."""
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise Invalid(message, field=field)
    number = int(text)
    if not low <= number <= high:
        raise Invalid(message, field=field)
    return number


def _adjust_fill(
    actor: User, fill: Fill, quantity: Any, days_supply: Any
) -> dict[str, tuple[str, str]]:
    """Lower a fill's quantity and/or change its days supply to meet a plan limit, before
    it is counted out."""
    locked = Fill.objects.select_for_update().get(pk=fill.pk)
    if locked.status not in ADJUSTABLE:
        raise Conflict(
            "The fill is already counted out: send it back at final verification to change "
            "its quantity.",
            field="quantity",
        )
    changes: dict[str, tuple[str, str]] = {}
    if quantity is not None:
        try:
            qty = Decimal(str(quantity)).quantize(Decimal("0.001"))
        except (InvalidOperation, ValueError):
            raise Invalid("Type the quantity as a number.", field="quantity") from None
        if not qty.is_finite() or qty <= 0:
            raise Invalid("The quantity must be more than zero.", field="quantity")
        if qty > locked.quantity:
            raise Invalid(
                f"A plan limit lowers the quantity; it cannot go above {locked.quantity}.",
                field="quantity",
            )
        if qty != locked.quantity:
            changes["quantity"] = (str(locked.quantity), str(qty))
            locked.quantity = qty
    if days_supply is not None:
        try:
            days = int(days_supply)
        except (TypeError, ValueError):
            raise Invalid("Type the days supply as a whole number.", field="days_supply") from None
        if not 1 <= days <= 365:
            raise Invalid("The days supply is 1 to 365 days.", field="days_supply")
        if days != locked.days_supply:
            changes["days_supply"] = (str(locked.days_supply), str(days))
            locked.days_supply = days
    if changes:
        locked.save(update_fields=list(changes))
        audit_record(
            actor=actor,
            site=fill.site,
            action="claims.fill.adjusted",
            obj=locked,
            patient_id=fill.prescription.patient_id,
            data={"changes": {k: list(v) for k, v in changes.items()}},
        )
    return changes


def claim_resubmit(
    *,
    actor: User,
    claim: Claim,
    prior_auth_number: str | None = None,
    clarification_codes: Sequence[str] | None = None,
    dur_pps: Sequence[dict[str, str]] | None = None,
    days_supply: int | None = None,
    quantity: Any = None,
    daw: int | None = None,
    other_coverage_code: int | None = None,
) -> BillResult:
    """Send a rejected claim again with the corrections the reject asks for (a PA number,
    a clarification code, the pharmacist's DUR/PPS codes, a quantity or days supply within
    the plan's limits), then bill the payers after it."""
    authorize(actor, Cap.CLAIMS_BILL)
    _own(actor, claim.site_id, "claim")
    claim = Claim.objects.select_related("fill__prescription").get(pk=claim.pk)
    if claim.status not in (ClaimStatus.REJECTED, ClaimStatus.ATTENTION, ClaimStatus.QUEUED):
        raise Conflict(
            f"The claim is {claim.get_status_display().lower()}; only a rejected claim is "
            "resubmitted.",
            field="status",
        )
    fill = _billable_fill(actor, claim.fill)
    corrections = _clean_corrections(
        actor,
        claim,
        {
            "prior_auth_number": prior_auth_number,
            "clarification_codes": clarification_codes,
            "dur_pps": dur_pps,
            "daw": daw,
            "other_coverage_code": other_coverage_code,
        },
    )
    with transaction.atomic():
        adjusted = (
            _adjust_fill(actor, fill, quantity, days_supply)
            if quantity is not None or days_supply is not None
            else {}
        )
        audit_record(
            actor=actor,
            site=fill.site,
            action="claims.claim.resubmitted",
            obj=claim,
            patient_id=fill.prescription.patient_id,
            data={
                "corrections": sorted(corrections),
                "fill_changes": sorted(adjusted),
                "reject_codes": list(claim.reject_codes),
            },
        )
    return _bill_chain(actor, fill, start_rank=claim.payer_rank, corrections=corrections)


def _reversal_message(claim: Claim) -> bytes:
    fill = _load_fill(claim.fill)
    data = _claim_data(
        fill, claim.coverage, claim.plan, date_of_service=claim.date_of_service, claim=claim
    ).with_changes(ndc=claim.ndc, rx_number=claim.rx_number, fill_number=claim.fill_number)
    return ncpdp.encode_request(builder.reversal_request(data))


def _send_reversal(claim_id: int, actor: User | None) -> tuple[Claim, str]:
    claim = Claim.objects.select_related("plan__payer", "coverage", "fill__prescription").get(
        pk=claim_id
    )
    if not _start(claim.pk, [ClaimStatus.REVERSAL_QUEUED], actor):
        claim.refresh_from_db()
        return claim, f"{claim.plan.name}: the reversal is already on its way."
    try:
        message = _reversal_message(claim)
    except Invalid:
        Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.REVERSAL_QUEUED)
        raise
    return _transmit(claim, TransmissionKind.REVERSAL, message, actor)


def _queue_reversals(
    actor: User | None, fill: Fill, reason: str, claims: Iterable[Claim] | None = None
) -> list[int]:
    """Inside the caller's transaction: every accepted (or unanswered) claim of the fill goes
    to the outbox as a reversal, sent once the transaction commits."""
    rows = list(
        claims
        if claims is not None
        else Claim.objects.select_for_update()
        .filter(fill=fill)
        .filter(Q(status__in=ACCEPTED) | Q(status=ClaimStatus.QUEUED))
    )
    ids: list[int] = []
    for claim in rows:
        Claim.objects.filter(pk=claim.pk).update(
            status=ClaimStatus.REVERSAL_QUEUED, reversal_reason=reason[:200]
        )
        ids.append(claim.pk)
        audit_record(
            actor=actor,
            site=fill.site,
            action="claims.claim.reversal_requested",
            obj=claim,
            patient_id=fill.prescription.patient_id,
            data={"fill_id": fill.pk, "plan_id": claim.plan_id, "reason": reason[:200]},
        )
    # Closing rejected claims: nothing was paid, nothing to reverse.
    Claim.objects.filter(
        fill=fill, status__in=[ClaimStatus.REJECTED, ClaimStatus.ATTENTION]
    ).update(status=ClaimStatus.CLOSED)
    if ids:
        transaction.on_commit(lambda: _send_reversals(ids, actor))
    return ids


def _send_reversals(ids: list[int], actor: User | None) -> None:
    for claim_id in ids:
        try:
            _send_reversal(claim_id, actor)
        except Exception:  # the reversal stays in the outbox; log and go on
            log.exception("Reversal of claim %s failed; it stays in the outbox", claim_id)


def claim_reverse(*, actor: User, claim: Claim, reason: str) -> Claim:
    """Reverse (B2) a paid or captured claim now."""
    authorize(actor, Cap.CLAIMS_BILL)
    _own(actor, claim.site_id, "claim")
    why = " ".join((reason or "").split())
    if not why:
        raise Invalid("Say why the claim is reversed.", field="reason")
    with transaction.atomic():
        locked = (
            Claim.objects.select_for_update().select_related("fill__prescription").get(pk=claim.pk)
        )
        if locked.status not in ACCEPTED and locked.status != ClaimStatus.QUEUED:
            raise Conflict(
                f"The claim is {locked.get_status_display().lower()}; only a paid or captured "
                "claim is reversed.",
                field="status",
            )
        fill = locked.fill
        Claim.objects.filter(pk=locked.pk).update(
            status=ClaimStatus.REVERSAL_QUEUED, reversal_reason=why[:200]
        )
        audit_record(
            actor=actor,
            site=fill.site,
            action="claims.claim.reversal_requested",
            obj=locked,
            patient_id=fill.prescription.patient_id,
            data={"fill_id": fill.pk, "plan_id": locked.plan_id, "reason": why[:200]},
        )
    result, _ = _send_reversal(locked.pk, actor)
    return result


def claim_rebill(*, actor: User, claim: Claim) -> BillResult:
    """Rebill (B3) a paid claim with the fill as it stands now (e.g. after the product was
    filled from another manufacturer's NDC): one transaction reverses and bills again."""
    authorize(actor, Cap.CLAIMS_BILL)
    _own(actor, claim.site_id, "claim")
    claim = Claim.objects.select_related("fill", "coverage", "plan__payer").get(pk=claim.pk)
    if claim.status not in ACCEPTED:
        raise Conflict("Only a paid or captured claim is rebilled.", field="status")
    fill = _load_fill(_billable_fill(actor, claim.fill))
    code, others = _cob_for(fill, claim.payer_rank, claim.coverage)
    data = _claim_data(
        fill,
        claim.coverage,
        claim.plan,
        date_of_service=claim.date_of_service,
        other_coverage_code=claim.other_coverage_code or code,
        other_payers=others,
        claim=claim,
    )
    message = ncpdp.encode_request(builder.billing_request(data, ncpdp.TransactionCode.REBILL))
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        locked.ndc, locked.quantity, locked.days_supply = data.ndc, data.quantity, data.days_supply
        locked.ingredient_cost, locked.usual_customary = data.ingredient_cost, data.usual_customary
        locked.gross_amount_due = data.gross_amount_due
        locked.save()
        if not _start(locked.pk, list(ACCEPTED), actor):
            raise Conflict("The claim changed meanwhile; open it again.", field="status")
        audit_record(
            actor=actor,
            site=fill.site,
            action="claims.claim.rebilled",
            obj=locked,
            patient_id=fill.prescription.patient_id,
            data={"fill_id": fill.pk, "ndc": data.ndc},
        )
    locked.refresh_from_db()
    locked.fill = fill
    result, sentence = _transmit(locked, TransmissionKind.REBILL, message, actor)
    pay = queries.patient_pays([fill]).get(fill.pk)
    return BillResult(fill=fill, claims=[result], patient_pay=pay, message=sentence)


def fill_bill_cash(*, actor: User, fill: Fill, reason: str) -> FillBilling:
    """The patient pays the cash price for this fill: rejected claims are closed and any
    paid claim is reversed."""
    authorize(actor, Cap.CLAIMS_BILL)
    _own(actor, fill.site_id)
    why = " ".join((reason or "").split())
    if not why:
        raise Invalid("Say why the fill is billed as cash.", field="reason")
    with transaction.atomic():
        locked = (
            Fill.objects.select_for_update().select_related("prescription", "site").get(pk=fill.pk)
        )
        if locked.status in NOT_BILLABLE:
            raise Conflict(
                f"The fill is {locked.get_status_display().lower()}; its billing is final.",
                field="status",
            )
        if Claim.objects.filter(fill=locked, status=ClaimStatus.SENDING).exists():
            raise Conflict("A claim of this fill is being sent; wait for its answer.")
        _queue_reversals(actor, locked, f"Switched to cash: {why}")
        return _decide(actor, locked, BillingMode.CASH, None, why)


def fill_proceed(*, actor: User, fill: Fill, collect: Any, reason: str) -> FillBilling:
    """The switch does not answer: the pharmacist lets the fill go on while its claim waits
    in the outbox, and says what the patient pays meanwhile."""
    authorize(actor, Cap.CLAIMS_PROCEED)
    _own(actor, fill.site_id)
    amount = _money(collect, "collect")
    why = " ".join((reason or "").split())
    if not why:
        raise Invalid("Say why the fill goes on without the plan's answer.", field="reason")
    with transaction.atomic():
        locked = (
            Fill.objects.select_for_update().select_related("prescription", "site").get(pk=fill.pk)
        )
        if not Claim.objects.filter(fill=locked, status=ClaimStatus.QUEUED).exists():
            raise Conflict(
                "Only a fill whose claim waits for the switch can go on without an answer.",
                field="status",
            )
        return _decide(actor, locked, BillingMode.PROCEED, amount, why)


def _decide(
    actor: User, fill: Fill, mode: BillingMode, collect: Decimal | None, why: str
) -> FillBilling:
    """Keep the decision on the (locked) fill, and its audit event."""
    decision, _ = FillBilling.objects.update_or_create(
        fill=fill,
        defaults={
            "mode": mode,
            "collect": collect,
            "reason": why[:200],
            "decided_by": actor,
            "decided_at": timezone.now(),
        },
    )
    data = {"reason": why[:200]} | ({"collect": str(collect)} if collect is not None else {})
    audit_record(
        actor=actor,
        site=fill.site,
        action="claims.fill.cash" if mode == BillingMode.CASH else "claims.fill.proceed",
        obj=fill,
        patient_id=fill.prescription.patient_id,
        data=data,
    )
    return decision


def eligibility_check(*, actor: User, coverage: Coverage) -> Eligibility:
    """Ask the payer (E1) whether the card covers the patient today."""
    authorize(actor, Cap.CLAIMS_BILL)
    coverage = Coverage.objects.select_related("patient__site").get(pk=coverage.pk)
    patient = coverage.patient
    _own(actor, patient.site_id, "coverage")
    if not coverage.billable:
        raise Invalid("A cash coverage has no payer to ask.", field="coverage")
    plan = _plan_of(coverage)
    site: Site = patient.site
    if not site.npi:
        raise Invalid(
            "The pharmacy's NPI is not set: the PIC adds it in the site settings.", field="npi"
        )
    data = ClaimData(
        bin=plan.bin,
        pcn=plan.pcn or coverage.pcn.strip().upper(),
        pharmacy_npi=site.npi,
        date_of_service=site.today(),
        software_vendor_id=plan.payer.software_vendor_id,
        cardholder_id=coverage.member_id.strip().upper(),
        group=coverage.group.strip().upper(),
        person_code=coverage.person_code,
        relationship=coverage.relationship,
        date_of_birth=patient.date_of_birth,
        gender=builder.GENDER.get(patient.sex, "0"),
        first_name=patient.first_name,
        last_name=patient.last_name,
        zip_code=patient.postal_code,
    )
    message = ncpdp.encode_request(builder.eligibility_request(data))
    outcome, raw, error, elapsed = _exchange(plan, message)
    answer: dict[str, Any] = {}
    codes: list[str] = []
    text = error
    status = EligibilityStatus.NO_ANSWER
    if outcome == Outcome.ANSWERED:
        try:
            response = ncpdp.decode_response(raw)
        except ncpdp.NcpdpError as exc:
            outcome, text = Outcome.UNREADABLE, f"The payer's answer could not be read ({exc})."
        else:
            first = response.transactions[0] if response.transactions else None
            codes = list(first.reject_codes) if first else ["NN"]
            text = _messages(response, first)
            status = (
                EligibilityStatus.ACTIVE
                if first is not None and not first.is_rejected and not codes
                else EligibilityStatus.REJECTED
            )
            answer = _segment_fields(response.segment(ncpdp.SegmentCode.RESPONSE_INSURANCE))
            if first is not None:
                answer.update(_segment_fields(first.segment(ncpdp.SegmentCode.RESPONSE_INSURANCE)))
    with transaction.atomic():
        check = Eligibility.objects.create(
            site=site,
            patient=patient,
            coverage=coverage,
            plan=plan,
            status=status,
            reject_codes=codes,
            message=text[:400],
            answer=answer,
            checked_by=actor,
        )
        Transmission.objects.create(
            site=site,
            eligibility=check,
            kind=TransmissionKind.ELIGIBILITY,
            request=_text(message),
            response=_text(raw),
            outcome=outcome,
            error=error[:400],
            actor=actor,
            elapsed_ms=elapsed,
        )
        audit_record(
            actor=actor,
            site=site,
            action="claims.eligibility.checked",
            obj=check,
            patient_id=patient.pk,
            data={"plan_id": plan.pk, "status": status, "reject_codes": codes},
        )
    return check


# --------------------------------------------------------------------------------------
# The outbox


def outbox_replay(
    *,
    actor: User | None = None,
    site: Site | None = None,
    limit: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> ReplaySummary:
    """Send again what waits in the outbox (claims and reversals the switch did not
    answer, and claims left *sending* by a process that stopped), each with the same key, so
    a payer that already has it answers "duplicate" and nothing is paid twice."""
    if actor is not None:
        authorize(actor, Cap.CLAIMS_BILL)
        site = actor.site
    stale = timezone.now() - STALE_SENDING
    Claim.objects.filter(status=ClaimStatus.SENDING, sent_at__lt=stale).filter(
        **({"site": site} if site else {})
    ).update(status=ClaimStatus.QUEUED)
    waiting = Claim.objects.filter(status__in=OUTBOX).order_by("created_at", "pk")
    if site is not None:
        waiting = waiting.filter(site=site)
    rows = list(waiting.values_list("pk", "status", "site_id")[:limit])
    summary = ReplaySummary()
    per_site: dict[int, ReplaySummary] = {}
    for done, (claim_id, status, site_id) in enumerate(rows, start=1):
        here = per_site.setdefault(site_id, ReplaySummary())
        for tally in (summary, here):
            tally.still_waiting += 1  # until an answer says otherwise
        try:
            if status == ClaimStatus.REVERSAL_QUEUED:
                claim, _ = _send_reversal(claim_id, actor)
            else:
                claim = _replay_billing(claim_id, actor)
        except Exception:  # one bad claim must not stop the outbox
            log.exception("Outbox: claim %s could not be sent", claim_id)
            claim = None
        if claim is not None and claim.status not in OUTBOX:
            for tally in (summary, here):
                tally.still_waiting -= 1
                tally.sent += 1
                if claim.status in ACCEPTED:
                    tally.paid += 1
                elif claim.status == ClaimStatus.REVERSED:
                    tally.reversed += 1
                else:
                    tally.rejected += 1
        if progress is not None:
            progress(done, len(rows))
    sites = {s.pk: s for s in Site.objects.filter(pk__in=per_site)}
    for site_id, tally in per_site.items():
        with transaction.atomic():
            audit_record(
                actor=actor,
                site=sites[site_id],
                action="claims.outbox.replayed",
                object_type="claims.outbox",
                data={
                    "sent": tally.sent,
                    "paid": tally.paid,
                    "rejected": tally.rejected,
                    "still_waiting": tally.still_waiting,
                    "reversed": tally.reversed,
                },
            )
    return summary


def _replay_billing(claim_id: int, actor: User | None) -> Claim:
    """Replay a queued claim with the exact request first sent (same Rx, fill, date of
    service), then bill the payers after it."""
    claim = Claim.objects.select_related("plan__payer", "fill__prescription").get(pk=claim_id)
    last = (
        claim.transmissions.filter(kind__in=[TransmissionKind.BILLING, TransmissionKind.REBILL])
        .order_by("pk")
        .last()
    )
    if last is None or not _start(claim.pk, [ClaimStatus.QUEUED], actor):
        claim.refresh_from_db()
        return claim
    # A lost B3 is replayed as the B3 it was: the payer reverses and bills again either way.
    message = last.request.encode("latin-1")
    result, _ = _transmit(claim, TransmissionKind(last.kind), message, actor)
    fill = claim.fill
    if result.status in ACCEPTED and fill.status not in NOT_BILLABLE:
        # No next payer, or one that cannot be billed now: the fill's panel shows it.
        with contextlib.suppress(Conflict, Invalid):
            _bill_chain(actor, fill, start_rank=claim.payer_rank + 1)
    return result


# --------------------------------------------------------------------------------------
# The workflow's seams


def fill_seam(fill: Fill, actor: User | None) -> seams.Outcome:
    """At data verification: a fill with a plan to bill goes on only when its first payer
    accepted the claim, when it was switched to cash, or when a pharmacist let it go on
    while the claim waits in the outbox."""
    decision = FillBilling.objects.filter(fill_id=fill.pk).select_related("decided_by").first()
    if decision is not None and decision.mode == BillingMode.CASH:
        return seams.Outcome(ran=True, note=f"Cash: {decision.reason}", record={"billing": "cash"})
    # The workflow hands over its locked fill with the prescription, patient and site read:
    # a cash fill needs nothing more.
    rx = fill.prescription
    chain = queries.billing_order(rx.patient, rx.site.today())
    if not chain:
        return seams.Outcome(
            ran=True, note="Cash: no plan to bill.", record={"billing": "no coverage"}
        )
    fill = _load_fill(fill)
    live = queries.claims_of(fill)
    primary = next((c for c in live if c.payer_rank == 1), None)
    if primary is not None and primary.status in ACCEPTED:
        pay = queries.patient_pays([fill]).get(fill.pk)
        return seams.Outcome(
            ran=True,
            note=f"Paid by {primary.plan.name}"
            + (f": the patient pays ${pay}." if pay is not None else "."),
            record={"claims": [c.pk for c in live], "patient_pay": str(pay) if pay else None},
        )
    if (
        decision is not None
        and decision.mode == BillingMode.PROCEED
        and primary is not None
        and primary.status == ClaimStatus.QUEUED
    ):
        return seams.Outcome(
            ran=True,
            note=f"The claim waits in the outbox; collect ${decision.collect} meanwhile.",
            record={"claims": [primary.pk], "proceed": True},
        )
    where = f"Rx {fill.prescription.number}-{fill.number}"
    if primary is None:
        message = f"{where} is not billed yet: bill it to {chain[0]} first, or bill it as cash."
    elif primary.status == ClaimStatus.QUEUED:
        message = (
            f"{where}: the claim waits for the switch. A pharmacist may let it go on "
            "(collecting the co-pay now), or bill it as cash."
        )
    else:
        message = (
            f"{where} is not paid by {primary.plan.name} "
            f"({primary.get_status_display().lower()}"
            + (f": {rejects.summary(primary.reject_codes)}" if primary.reject_codes else "")
            + "). Work the rejection or bill it as cash."
        )
    return seams.Outcome(ran=True, note=message, blocking=[{"field": "claim", "message": message}])


def fill_check_seam(fill: Fill, actor: User | None) -> seams.Outcome:
    """At final verification: the NDC in the bottle must be the NDC billed (an audit
    finding otherwise) — rebill the claim first when the product changed."""
    if not Claim.objects.filter(fill_id=fill.pk, status__in=ACCEPTED).exists():
        return seams.Outcome(ran=True, note="")  # nothing billed yet, or cash
    fill = _load_fill(fill)
    package = fill.package or fill.prescription.package
    mismatched = [
        c
        for c in queries.claims_of(fill)
        if c.status in ACCEPTED and package is not None and c.ndc != package.ndc11
    ]
    if not mismatched:
        return seams.Outcome(ran=True, note="")
    claim = mismatched[0]
    message = (
        f"The claim to {claim.plan.name} billed NDC {claim.ndc}, but the fill holds "
        f"{package.ndc10 if package else '—'}: rebill it before final verification."
    )
    return seams.Outcome(ran=True, note=message, blocking=[{"field": "claim", "message": message}])


def fill_reverse_seam(fill: Fill, actor: User | None) -> seams.Outcome:
    """On return to stock or cancellation: reverse what the payers paid (sent after the
    workflow's transaction commits; the outbox keeps it if the switch does not answer)."""
    fill = Fill.objects.select_related("prescription", "site").get(pk=fill.pk)
    ids = _queue_reversals(actor, fill, "Fill returned to stock or cancelled")
    if not ids:
        return seams.Outcome(ran=True, note="No paid claim to reverse.")
    return seams.Outcome(
        ran=True,
        note=f"{len(ids)} claim(s) reversed (sent to the payer).",
        record={"reversing": ids},
    )


def patient_pays(fills: Iterable[Fill]) -> dict[int, Decimal]:
    return queries.patient_pays(fills)


@dataclass
class BatchSummary:
    billed: int = 0
    paid: int = 0
    rejected: int = 0
    waiting: int = 0
    refused: int = 0


def claims_bill_waiting(
    *, actor: User, limit: int = 1000, progress: Callable[[int, int], None] | None = None
) -> BatchSummary:
    """Bill every fill of the actor's pharmacy that waits for data verification with a plan
    to bill and no claim yet (e.g. the morning's automatic refills), one after the other.
    A fill that cannot be billed (no plan on file for its card, no price) is counted as
    refused and left for the technician; the others are not held up by it."""
    authorize(actor, Cap.CLAIMS_BILL)
    waiting = list(
        Fill.objects.filter(
            site=actor.site,
            status__in=[FillStatus.QUEUED, FillStatus.SCHEDULED],
            prescription__patient__coverages__active=True,
            billing__isnull=True,
        )
        .exclude(claims__status__in=[s for s in ClaimStatus if s not in DEAD])
        .distinct()
        .order_by("pk")[:limit]
    )
    summary = BatchSummary()
    for done, fill in enumerate(waiting, start=1):
        try:
            result = _bill_chain(actor, fill)
        except DomainError:
            summary.refused += 1
        else:
            if result.claims:
                summary.billed += 1
                last = result.claims[-1]
                if last.status in ACCEPTED:
                    summary.paid += 1
                elif last.status in OUTBOX:
                    summary.waiting += 1
                else:
                    summary.rejected += 1
        if progress is not None:
            progress(done, len(waiting))
    return summary
