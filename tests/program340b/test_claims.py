"""Through the real claim path (a real test-payer process over TCP): a 340B-eligible fill
billed to a plan whose rule says "bill as 340B" carries 420-DK = 20 (and 423-DN = 08 where
the rule asks); a fill that is not eligible, or a plan without the rule, is sent as typed."""

from __future__ import annotations

import pytest

from rxdesk.claims import ncpdp, services
from rxdesk.claims.models import Claim
from rxdesk.program340b import services as p340b
from rxdesk.program340b.choices import PayerAction
from tests.claims.billing_helpers import card, payer_for, plan_for, plan_rules, priced_rx
from tests.claims.conftest import test_payer  # noqa: F401  (the fixture)
from tests.program340b.factories import entity, list_patient, list_prescriber

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def plan(test_payer):  # noqa: F811
    return plan_for(payer_for(test_payer({"plans": [plan_rules()]})))


def _sent(claim: Claim) -> ncpdp.Request:
    sent = claim.transmissions.order_by("pk").last()
    assert sent is not None
    return ncpdp.decode_request(sent.request.encode("latin-1"))


def _codes(claim: Claim) -> tuple[tuple[str, ...], str | None]:
    (tx,) = _sent(claim).transactions
    claim_seg, pricing = tx.segment(ncpdp.SegmentCode.CLAIM), tx.segment(ncpdp.SegmentCode.PRICING)
    assert claim_seg is not None and pricing is not None
    dn = pricing.get_all("DN")
    return tuple(str(v) for v in claim_seg.get_all("DK")), (str(dn[0]) if dn else None)


def test_an_eligible_fill_billed_to_a_340b_plan_carries_scc_20_and_basis_08(
    site, pic, technician, plan
):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    entity(site)
    list_prescriber(site)
    list_patient(site, rx.patient)
    p340b.p340b_payer_rule_set(
        actor=pic, plan=plan, action=PayerAction.BILL_340B, basis_of_cost_08=True
    )

    (claim,) = services.claim_bill(actor=technician, fill=fill).claims

    assert _codes(claim) == (("20",), "08")
    assert claim.clarification_codes == ["20"]


def test_a_fill_not_eligible_or_a_plan_without_the_rule_is_sent_as_typed(
    site, pic, technician, plan
):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    entity(site)
    list_prescriber(site)  # the patient is not the entity's
    p340b.p340b_payer_rule_set(actor=pic, plan=plan, action=PayerAction.BILL_340B)

    (claim,) = services.claim_bill(actor=technician, fill=fill).claims

    codes, basis = _codes(claim)
    assert "20" not in codes and basis != "08"
