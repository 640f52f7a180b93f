"""API of billing: bill a fill, work its claims (resubmit, reverse, rebill), cash and
go-on decisions, eligibility, the reject queue and the outbox. Parse, call a service or
query, serialize.

Each operation checks the role before ninja reads the body, so a role without the
capability gets 403 whatever it sends; the services check again. Rows of another pharmacy
do not exist here (404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from rxdesk.claims import queries, services
from rxdesk.claims.choices import ClaimStatus, EligibilityStatus
from rxdesk.claims.models import Claim, Eligibility, FillBilling
from rxdesk.claims.rejects import explain
from rxdesk.core.capabilities import Cap
from rxdesk.core.models import User
from rxdesk.rx.api_fills import BearerToken, BrowserSession
from rxdesk.rx.queries_fills import fill_get

router = Router(tags=["Claims"])

MAX_ID = 2**63 - 1


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class _In(Schema):
    model_config = {"extra": "forbid"}


class RejectOut(Schema):
    code: str
    meaning: str
    advice: str


class ClaimOut(Schema):
    id: int
    fill_id: int
    rx_number: int
    fill_number: int
    payer_rank: int = Field(..., description="1 primary, 2 secondary, 3 tertiary/copay card")
    plan_id: int
    plan_name: str
    bin: str
    status: ClaimStatus
    status_text: str
    date_of_service: dt.date
    ndc: str
    quantity: Decimal
    days_supply: int
    other_coverage_code: int
    prior_auth_number: str
    clarification_codes: list[str]
    usual_customary: Decimal | None
    ingredient_cost: Decimal | None
    dispensing_fee: Decimal | None
    gross_amount_due: Decimal | None
    patient_pay: Decimal | None
    plan_paid: Decimal | None
    authorization_number: str
    duplicate: bool
    rejects: list[RejectOut]
    message: str
    attention: str
    attempts: int

    @staticmethod
    def resolve_plan_name(obj: Claim) -> str:
        return obj.plan.name

    @staticmethod
    def resolve_bin(obj: Claim) -> str:
        return obj.plan.bin

    @staticmethod
    def resolve_status_text(obj: Claim) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_clarification_codes(obj: Claim) -> list[str]:
        return [str(c) for c in obj.clarification_codes]

    @staticmethod
    def resolve_rejects(obj: Claim) -> list[dict[str, str]]:
        out = []
        for code in obj.reject_codes:
            known = explain(str(code))
            out.append({"code": known.code, "meaning": known.meaning, "advice": known.advice})
        return out


class BillOut(Schema):
    fill_id: int
    message: str
    patient_pay: Decimal | None
    claims: list[ClaimOut]


def _bill_out(result: services.BillResult) -> dict[str, Any]:
    return {
        "fill_id": result.fill.pk,
        "message": result.message,
        "patient_pay": result.patient_pay,
        "claims": queries.claims_of(result.fill),
    }


@router.post(
    "/fills/{int:fill_id}/bill",
    response=BillOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Bill a fill to its plans in real time (B1, in the order of benefits)",
)
def bill(request: HttpRequest, fill_id: int) -> Any:
    fill = fill_get(actor=_user(request), fill_id=fill_id)
    return _bill_out(services.claim_bill(actor=_user(request), fill=fill))


@router.get(
    "/fills/{int:fill_id}/claims",
    response=list[ClaimOut],
    auth=_gate(Cap.CLAIMS_VIEW),
    summary="Every claim of a fill, newest first (reversed and closed ones too)",
)
def fill_claims(request: HttpRequest, fill_id: int) -> Any:
    fill = fill_get(actor=_user(request), fill_id=fill_id)
    return queries.history_of(fill)


class CashIn(_In):
    reason: str = Field(..., min_length=1, max_length=200)


class BillingOut(Schema):
    fill_id: int
    mode: str
    collect: Decimal | None
    reason: str
    decided_at: dt.datetime


@router.post(
    "/fills/{int:fill_id}/cash",
    response=BillingOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Bill a fill as cash: rejected claims close, paid ones are reversed",
)
def cash(request: HttpRequest, fill_id: int, payload: CashIn) -> FillBilling:
    fill = fill_get(actor=_user(request), fill_id=fill_id)
    return services.fill_bill_cash(actor=_user(request), fill=fill, reason=payload.reason)


class ProceedIn(_In):
    collect: Decimal = Field(..., ge=0, max_digits=7, decimal_places=2)
    reason: str = Field(..., min_length=1, max_length=200)


@router.post(
    "/fills/{int:fill_id}/proceed",
    response=BillingOut,
    auth=_gate(Cap.CLAIMS_PROCEED),
    summary="Let a fill go on while its claim waits for the switch (pharmacist)",
)
def proceed(request: HttpRequest, fill_id: int, payload: ProceedIn) -> FillBilling:
    fill = fill_get(actor=_user(request), fill_id=fill_id)
    return services.fill_proceed(
        actor=_user(request), fill=fill, collect=payload.collect, reason=payload.reason
    )


@router.get(
    "/claims/{int:claim_id}",
    response=ClaimOut,
    auth=_gate(Cap.CLAIMS_VIEW),
    summary="One claim",
)
def claim(request: HttpRequest, claim_id: int) -> Claim:
    return queries.claim_get(actor=_user(request), claim_id=claim_id)


class DurIn(_In):
    reason_for_service: str = Field(..., min_length=2, max_length=2, description="439-E4")
    professional_service: str = Field(..., min_length=2, max_length=2, description="440-E5")
    result_of_service: str = Field(..., min_length=2, max_length=2, description="441-E6")


class ResubmitIn(_In):
    prior_auth_number: str | None = Field(None, max_length=11)
    clarification_codes: list[str] | None = Field(None, max_length=3)
    dur_pps: list[DurIn] | None = Field(None, max_length=9)
    days_supply: int | None = Field(None, ge=1, le=365)
    quantity: Decimal | None = Field(None, gt=0, max_digits=10, decimal_places=3)
    daw: int | None = Field(None, ge=0, le=9)
    other_coverage_code: int | None = Field(None, ge=0, le=8)


@router.post(
    "/claims/{int:claim_id}/resubmit",
    response=BillOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Send a rejected claim again with corrections",
)
def resubmit(request: HttpRequest, claim_id: int, payload: ResubmitIn) -> Any:
    found = queries.claim_get(actor=_user(request), claim_id=claim_id)
    values = payload.model_dump(exclude_none=True)
    result = services.claim_resubmit(actor=_user(request), claim=found, **values)
    return _bill_out(result)


class ReverseIn(_In):
    reason: str = Field(..., min_length=1, max_length=200)


@router.post(
    "/claims/{int:claim_id}/reverse",
    response=ClaimOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Reverse a paid claim (B2)",
)
def reverse(request: HttpRequest, claim_id: int, payload: ReverseIn) -> Claim:
    found = queries.claim_get(actor=_user(request), claim_id=claim_id)
    return services.claim_reverse(actor=_user(request), claim=found, reason=payload.reason)


@router.post(
    "/claims/{int:claim_id}/rebill",
    response=BillOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Rebill a paid claim with the fill as it stands (B3)",
)
def rebill(request: HttpRequest, claim_id: int) -> Any:
    found = queries.claim_get(actor=_user(request), claim_id=claim_id)
    return _bill_out(services.claim_rebill(actor=_user(request), claim=found))


@router.get(
    "/rejects",
    response=list[ClaimOut],
    auth=_gate(Cap.CLAIMS_VIEW),
    summary="The reject queue: rejected claims to work, oldest first",
)
def reject_queue(request: HttpRequest) -> list[Claim]:
    return queries.reject_queue(actor=_user(request))


class EligibilityOut(Schema):
    id: int
    coverage_id: int
    plan_id: int
    status: EligibilityStatus
    status_text: str
    rejects: list[RejectOut]
    message: str
    checked_at: dt.datetime

    @staticmethod
    def resolve_status_text(obj: Eligibility) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_rejects(obj: Eligibility) -> list[dict[str, str]]:
        out = []
        for code in obj.reject_codes:
            known = explain(str(code))
            out.append({"code": known.code, "meaning": known.meaning, "advice": known.advice})
        return out


@router.post(
    "/coverages/{int:coverage_id}/eligibility",
    response=EligibilityOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Ask the payer whether the card covers the patient today (E1)",
)
def eligibility(request: HttpRequest, coverage_id: int) -> Eligibility:
    coverage = queries.coverage_get(actor=_user(request), coverage_id=coverage_id)
    return services.eligibility_check(actor=_user(request), coverage=coverage)


class OutboxOut(Schema):
    sent: int
    paid: int
    rejected: int
    reversed: int
    still_waiting: int


@router.get(
    "/outbox",
    response=list[ClaimOut],
    auth=_gate(Cap.CLAIMS_VIEW),
    summary="Claims and reversals waiting for the switch",
)
def outbox(request: HttpRequest) -> list[Claim]:
    return queries.outbox(actor=_user(request))


@router.post(
    "/outbox/replay",
    response=OutboxOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Send what waits in the outbox now",
)
def outbox_replay(request: HttpRequest) -> services.ReplaySummary:
    return services.outbox_replay(actor=_user(request))
